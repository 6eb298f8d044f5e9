"""JSON Lines: one object per line. Numbers stay exact (Decimal), a bad line is a row error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import BinaryIO

from files.domain.dialect import split_lines
from files.domain.errors import ErrorCode, RowError, file_rejected
from files.domain.mapping import FileFormat, ParseOptions
from files.domain.raw import RawBatch, batch_from_cells
from files.domain.sources import SimpleSource
from files.domain.text_source import DetectedEncoding, decode_sample, detect_encoding, iter_text_blocks, read_sample

SAMPLE_OBJECTS = 1000


class _LineRejected(ValueError):
    def __init__(self, message: str, code: ErrorCode = ErrorCode.JSON_INVALID) -> None:
        super().__init__(message)
        self.code = code


def _reject_constant(name: str) -> object:
    raise _LineRejected(f"{name} is not a number JSON allows")


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _LineRejected(f"the key {key!r} appears twice")
        result[key] = value
    return result


def parse_line(text: str) -> dict[str, object]:
    """One object; floats as exact Decimals; NaN/Infinity and duplicate keys are rejected."""
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant,
                           object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as error:
        raise _LineRejected(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(value, dict):
        raise _LineRejected(f"a JSON {type(value).__name__} where an object is expected", ErrorCode.JSON_NOT_OBJECT)
    return value


def _columns_from_sample(text: str) -> tuple[str, ...]:
    columns: dict[str, None] = {}
    seen = 0
    for line in split_lines(text):
        if not line.strip():
            continue
        try:
            columns.update(dict.fromkeys(parse_line(line)))
        except _LineRejected:
            continue
        seen += 1
        if seen >= SAMPLE_OBJECTS:
            break
    return tuple(columns)


def open_jsonl(stream: BinaryIO, options: ParseOptions) -> SimpleSource:
    sample = read_sample(stream)
    encoding = detect_encoding(sample, options.encoding)
    columns = _columns_from_sample(decode_sample(sample, encoding))
    if not columns:
        raise file_rejected(ErrorCode.NO_DATA_ROWS, "no line in the first part of the file is a JSON object")
    details: dict[str, object] = {"encoding": encoding.label}
    return SimpleSource(format=FileFormat.JSONL, columns=columns, details=details, default_mapping=None,
                        reader=lambda: _batches(stream, encoding, columns, options))


def _batches(stream: BinaryIO, encoding: DetectedEncoding, columns: tuple[str, ...],
             options: ParseOptions) -> Iterator[RawBatch]:
    for block in iter_text_blocks(stream, encoding, block_chars=options.block_bytes, quote=None):
        rows: list[tuple[int, list[object]]] = []
        errors: list[RowError] = []
        for offset, line in enumerate(split_lines(block.text)):
            number = block.first_line + offset
            if not line.strip():
                continue
            if number in block.bad_lines:
                errors.append(RowError(line=number, column=None, raw_value=None, code=ErrorCode.ENCODING_INVALID,
                                       message=f"line {number} holds bytes that are not valid in the file's "
                                               "encoding"))
                continue
            try:
                record = parse_line(line)
            except _LineRejected as rejected:
                errors.append(RowError(line=number, column=None, raw_value=line.rstrip("\r\n")[:200],
                                       code=rejected.code, message=f"line {number}: {rejected}"))
                continue
            rows.append((number, [record.get(column) for column in columns]))
        yield batch_from_cells(columns, rows, errors)
