"""parse_file: stream a file into chunks of canonical rows plus every error, in one or two passes.

Inference window: the first `sample_rows` data rows decide each column's number and date format.
If that leaves a column undecided (integers only so far, or only "05/01"-style dates) and the file
has more rows, the window becomes the whole file: one extra pass reads just those columns. The main
pass then normalises and keeps checking every date against the decided order; a contradiction found
late fails the whole file. Rows are therefore provisional until the last chunk, whose `summary`
says whether the ingestion is accepted. Storage writes chunks inside one transaction (or a dataset
version) and commits only an accepted summary.
"""

from __future__ import annotations

import itertools
import queue
import shutil
import tempfile
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Literal, TypeVar

import polars as pl

from files.domain.canonical import (
    CANONICAL_SCHEMA,
    COPY_COLUMNS,
    CURRENT_FINGERPRINT_SCHEME,
    CanonicalRecord,
    OccurrenceCounter,
    finish_frame,
    records,
)
from files.domain.dates import ExplicitDateFormat
from files.domain.errors import ErrorCode, FileProblem, FileRejected, RowError
from files.domain.mapping import ColumnMapping, FileFormat, OnError, ParseOptions
from files.domain.normalise import Normaliser
from files.domain.plan import Plan, Resolved, build_plan
from files.domain.raw import RawBatch
from files.domain.sources import TabularSource, open_source

Status = Literal["accepted", "rejected", "failed"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParseSummary:
    """accepted: rows may be committed. rejected: row errors under on_error=reject. failed: file problems
    (including on_error=skip with no row left to keep)."""

    status: Status
    format: FileFormat | None
    rows_read: int
    rows_accepted: int
    rows_with_errors: int
    error_count: int
    errors: tuple[RowError, ...]  # the first `max_reported_errors`, in line order
    problems: tuple[FileProblem, ...]
    details: dict[str, object] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)


@dataclass(frozen=True, slots=True)
class ParsedChunk:
    index: int
    frame: pl.DataFrame  # CANONICAL_SCHEMA columns in COPY_COLUMNS order; good rows only
    errors: tuple[RowError, ...]  # every error found in this chunk
    summary: ParseSummary | None = None  # set on the last chunk only
    # False when no text value holds a backslash, tab, CR or LF (the reader saw none), so an encoder
    # that must escape those can skip looking for them.
    may_hold_escapes: bool = True

    def records(self) -> list[CanonicalRecord]:
        return records(self.frame)

    def copy_rows(self) -> list[tuple[object, ...]]:
        """Tuples in COPY_COLUMNS order with Python values (Decimal, date, bytes) for binary COPY."""
        return [tuple(record) for record in self.records()]

    def to_copy_csv(self) -> bytes:
        """COPY ... FROM STDIN (FORMAT csv) payload: no header, NULL as an empty unquoted field."""
        frame = self.frame.with_columns(
            pl.concat_str([pl.lit("\\x"), pl.col("fingerprint").bin.encode("hex")]).alias("fingerprint"))
        return frame.select(COPY_COLUMNS).write_csv(include_header=False).encode("utf-8")


def empty_canonical_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=CANONICAL_SCHEMA)


class _ErrorCollector:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[RowError] = []
        self.count = 0
        self.lines: set[int] = set()

    def add(self, errors: list[RowError]) -> None:
        self.count += len(errors)
        self.lines.update(e.line for e in errors)
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept.extend(errors[:room])


def ensure_seekable(stream: BinaryIO) -> BinaryIO:
    """Inference may need a second pass; a pipe or socket is spooled to a temporary file first."""
    if stream.seekable():
        return stream
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - returned to the caller
    shutil.copyfileobj(stream, spool, length=1024 * 1024)
    spool.seek(0)
    return spool  # type: ignore[return-value]


@dataclass(slots=True)
class Prepared:
    source: TabularSource
    plan: Plan
    resolved: Resolved
    batches: Iterator[RawBatch]


def prepare(source: TabularSource, mapping: ColumnMapping | None, options: ParseOptions, *,
            whole_column: bool = True) -> Prepared | list[FileProblem]:
    """Bind the mapping, infer column formats over the window; extend to the whole column if needed."""
    mapping = mapping or source.default_mapping
    if mapping is None:
        return [FileProblem(code=ErrorCode.MAPPING_REQUIRED,
                            message="this file needs a column mapping (see the preview for its columns)")]
    plan = build_plan(mapping, source.columns)
    if isinstance(plan, list):
        return plan
    iterator = source.batches()
    window: list[RawBatch] = []
    rows, exhausted = 0, True
    for batch in iterator:
        window.append(batch)
        plan.observe(batch)
        rows += batch.frame.height
        if rows >= options.sample_rows:
            exhausted = False
            break
    resolved, problems, undecided = plan.resolve(complete=exhausted or not whole_column)
    batches: Iterator[RawBatch] = itertools.chain(window, iterator)
    if undecided:
        window.clear()
        _close(iterator)  # the main pass starts again from the top
        for batch in source.batches():
            plan.observe(batch, only=undecided)
        resolved, problems, _ = plan.resolve(complete=True)
        batches = source.batches()
    if problems:
        return problems
    return Prepared(source=source, plan=plan, resolved=resolved, batches=batches)


def prefetched(items: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
    """Produce the next items on a worker thread while the caller handles this one.

    Tokenising, normalising and hashing are mostly polars work that releases the GIL; numbering
    occurrences and the caller's own work hold it. Overlapping the two uses a second core when there is
    one and costs little when not.
    Closing the generator stops the worker after its current item, then closes `items`.
    """
    handoff: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, finished))
        except BaseException as error:  # handed to the consumer, which re-raises it
            put((False, error))

    worker = threading.Thread(target=work, name="files-parse-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = handoff.get()
            if not ok:
                assert isinstance(item, BaseException)
                raise item
            if item is finished:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
        _close(items)  # a generator source stops its own helpers now, not whenever it is collected


def _close(iterator: Iterator[object]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def late_problems(prepared: Prepared) -> list[FileProblem]:
    """Whole-column date checks made while the main pass parsed every value."""
    problems: list[FileProblem] = []
    for output, profile in prepared.plan.date_profiles.items():
        resolution = prepared.resolved.dates.get(output)
        if isinstance(resolution, ExplicitDateFormat):
            continue
        contradiction = profile.contradiction()
        if contradiction is not None:
            problems.append(contradiction)
        elif resolution is None and profile.ambiguous.count:
            problems.append(profile.ambiguity())
    return problems + prepared.source.problems


def parse_file(stream: BinaryIO, *, filename: str, mapping: ColumnMapping | None = None,
               options: ParseOptions | None = None,
               fingerprint_scheme: int = CURRENT_FINGERPRINT_SCHEME) -> Iterator[ParsedChunk]:
    """`fingerprint_scheme`: the data source's (see canonical.py); storage de-duplicates by fingerprint."""
    options = options or ParseOptions()
    stream = ensure_seekable(stream)
    collector = _ErrorCollector(options.max_reported_errors)
    file_format: FileFormat | None = None
    details: dict[str, object] = {}
    rows_read = rows_accepted = 0
    index = 0

    def final(problems: list[FileProblem]) -> ParsedChunk:
        status: Status = "failed" if problems else ("rejected" if collector.count and
                                                    options.on_error is OnError.REJECT else "accepted")
        summary = ParseSummary(status=status, format=file_format, rows_read=rows_read,
                               rows_accepted=rows_accepted if status == "accepted" else 0,
                               rows_with_errors=len(collector.lines), error_count=collector.count,
                               errors=tuple(sorted(collector.kept, key=lambda e: e.line)),
                               problems=tuple(problems), details=details)
        return ParsedChunk(index=index, frame=empty_canonical_frame(), errors=(), summary=summary)

    try:
        source = open_source(stream, filename, options)
        file_format, details = source.format, dict(source.details)
        prepared = prepare(source, mapping, options)
        if isinstance(prepared, list):
            yield final(prepared)
            return
        normaliser = Normaliser(prepared.plan, prepared.resolved)
        extra_columns = [(f.name, f.output) for f in prepared.plan.fields if f.extra]
        occurrences = OccurrenceCounter()

        def normalise(batch: RawBatch) -> tuple[RawBatch, list[RowError], pl.DataFrame]:
            normalised = normaliser.normalise(batch)
            errors = sorted(batch.errors + normalised.errors, key=lambda e: e.line)
            frame = finish_frame(normalised.frame, extra_columns, may_hold_separators=normalised.may_hold_separators,
                                 scheme=fingerprint_scheme)
            return batch, errors, frame

        for batch, errors, columns in prefetched(normalise(batch) for batch in prepared.batches):
            collector.add(errors)
            rows_read += batch.rows_read
            if collector.count and options.on_error is OnError.REJECT:
                frame = empty_canonical_frame()  # rejected: stop handing out rows, keep collecting errors
            else:
                frame = columns.with_columns(pl.Series(
                    "occurrence", occurrences.assign(columns["fingerprint"].to_list()), dtype=pl.UInt32))
                rows_accepted += frame.height
            if frame.height or errors:
                yield ParsedChunk(index=index, frame=frame.select(COPY_COLUMNS), errors=tuple(errors),
                                  may_hold_escapes=batch.may_hold_escapes)
                index += 1
        problems = late_problems(prepared)
        if not problems and rows_read == 0:
            problems = [FileProblem(code=ErrorCode.NO_DATA_ROWS, message="the file has a header but no data rows")]
        elif not problems and rows_accepted == 0 and options.on_error is OnError.SKIP:
            # Skipping keeps the good rows; with none left, an empty dataset would pass for a successful upload.
            problems = [FileProblem(code=ErrorCode.NO_VALID_ROWS, params={"rows": rows_read},
                                    message=f"none of the {rows_read} data rows could be read; see the row errors")]
        yield final(problems)
    except FileRejected as rejected:
        yield final([rejected.problem])
