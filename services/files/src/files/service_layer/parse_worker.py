"""What runs inside a parser process: the domain's parse_file over a local file, encoded for COPY and written
to the service through a Unix socket. Only small, picklable values cross the process boundary.

Three stages overlap on their own threads: parse_file (which tokenises and normalises the next block on a
thread of its own while this one hashes), encoding (polars, mostly outside the GIL) and sending (which waits
while Postgres is busy). On two cores shared with Postgres, running them one after the other left a core idle
for a third of the COPY."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from files.adapters.records_text import encode_records
from files.domain.canonical import CURRENT_FINGERPRINT_SCHEME
from files.domain.errors import ErrorCode, FileProblem
from files.domain.mapping import ColumnMapping, ParseOptions
from files.domain.pipeline import ParsedChunk, ParseSummary, parse_file, prefetched


@dataclass(frozen=True)
class IngestJob:
    path: str
    filename: str
    mapping: dict[str, Any] | None
    options: dict[str, Any]
    with_extras: bool = True
    fingerprint_scheme: int = CURRENT_FINGERPRINT_SCHEME  # the data source's (see domain/canonical.py)


@dataclass
class IngestOutcome:
    status: str  # accepted | rejected | failed | aborted (the service stopped reading)
    rows_read: int = 0
    rows_sent: int = 0
    rows_with_errors: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # the first max_reported_errors, by line
    problems: list[dict[str, Any]] = field(default_factory=list)
    detected: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def bind(mapping: dict[str, Any] | None, options: dict[str, Any]) -> tuple[ColumnMapping | None, ParseOptions]:
    """Typed mapping and options; raises ValueError with a readable message when either is invalid."""
    try:
        typed_mapping = ColumnMapping.model_validate(mapping) if mapping is not None else None
        typed_options = ParseOptions.model_validate(options)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mapping'}: {e['msg']}" for e in error.errors())
        raise ValueError(problems) from None
    return typed_mapping, typed_options


def ingest_to_socket(socket_path: str, job: IngestJob) -> IngestOutcome:
    try:
        mapping, options = bind(job.mapping, job.options)
    except ValueError as invalid:
        problem = FileProblem(code=ErrorCode.MAPPING_INVALID, message=f"the mapping is not valid: {invalid}")
        return IngestOutcome(status="failed", problems=[problem.as_dict()])
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sink.connect(socket_path)
    except OSError:
        sink.close()
        return IngestOutcome(status="aborted")
    rows_sent = 0
    # Where each stage spends its time: parsing, encoding, and sending (waiting for the service to take bytes).
    timings = {"parse_s": 0.0, "encode_s": 0.0, "send_wait_s": 0.0}

    def timed_parse(chunks: Iterator[ParsedChunk]) -> Iterator[ParsedChunk]:
        while True:
            mark = time.perf_counter()
            chunk = next(chunks, None)
            timings["parse_s"] += time.perf_counter() - mark
            if chunk is None:
                return
            yield chunk

    def encode(chunk: ParsedChunk) -> tuple[ParsedChunk, bytes]:
        if not chunk.frame.height:
            return chunk, b""
        mark = time.perf_counter()
        payload = encode_records(chunk.frame, with_extras=job.with_extras, may_hold_escapes=chunk.may_hold_escapes)
        timings["encode_s"] += time.perf_counter() - mark
        return chunk, payload

    with sink, Path(job.path).open("rb") as stream:
        parsed = prefetched(timed_parse(parse_file(stream, filename=job.filename, mapping=mapping, options=options,
                                                   fingerprint_scheme=job.fingerprint_scheme)))
        encoded = prefetched(encode(chunk) for chunk in parsed)
        try:
            for chunk, payload in encoded:
                if payload:
                    mark = time.perf_counter()
                    sink.sendall(payload)
                    timings["send_wait_s"] += time.perf_counter() - mark
                    rows_sent += chunk.frame.height
                if chunk.summary is not None:
                    return _outcome(chunk.summary, rows_sent, timings)
        except (BrokenPipeError, ConnectionResetError):
            return IngestOutcome(status="aborted", rows_sent=rows_sent)
        finally:
            encoded.close()  # stops the encoding thread first: it is the one reading from `parsed`
            parsed.close()
    raise AssertionError("parse_file ended without a summary")


def _outcome(summary: ParseSummary, rows_sent: int, timings: dict[str, float]) -> IngestOutcome:
    detected = dict(summary.details)
    if summary.format is not None:
        detected["format"] = summary.format.value
    return IngestOutcome(
        status=summary.status, rows_read=summary.rows_read, rows_sent=rows_sent,
        rows_with_errors=summary.rows_with_errors, error_count=summary.error_count,
        errors=[error.as_dict() for error in summary.errors],
        problems=[problem.as_dict() for problem in summary.problems],
        detected={key: _plain(value) for key, value in detected.items()},
        timings={key: round(value, 3) for key, value in timings.items()},
    )


def _plain(value: object) -> object:
    """JSON-friendly detail values (tuples of column names, enums)."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
