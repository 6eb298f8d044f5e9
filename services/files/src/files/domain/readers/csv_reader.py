"""CSV/TSV: sniff once, then tokenise record-aligned blocks.

Fast path: polars tokenises the block, and is trusted only when its answer provably equals Python's
csv module (the slow path): one record per physical line, every quoted line RFC 4180 well-formed,
delimiter counts matching the header width. Any doubt sends the whole block to the slow path, which
reports malformed records and width mismatches line by line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import polars as pl

from files.domain.dialect import QUOTE, TableLayout, detect_layout, parse_sample_rows, sniff_delimiter, split_lines
from files.domain.errors import ErrorCode, RowError, file_rejected
from files.domain.mapping import FileFormat, ParseOptions
from files.domain.raw import LINE, RawBatch
from files.domain.sources import SimpleSource
from files.domain.text_source import (
    DetectedEncoding,
    TextBlock,
    decode_sample,
    detect_encoding,
    iter_text_blocks,
    read_sample,
)

_RAW = "raw"


@dataclass(frozen=True, slots=True)
class CsvSource:
    encoding: DetectedEncoding
    delimiter: str
    layout: TableLayout
    translate_cr: bool  # old Mac files end lines with a lone "\r"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.layout.columns

    def batches(self, stream: BinaryIO, options: ParseOptions) -> Iterator[RawBatch]:
        tokenizer = _BlockTokenizer(self.delimiter, self.layout.columns)
        for block in iter_text_blocks(stream, self.encoding, block_chars=options.block_bytes, quote=QUOTE,
                                      translate_cr=self.translate_cr):
            trimmed = _drop_lines_before(block, self.layout.first_data_line)
            if trimmed is not None:
                yield tokenizer.tokenize(trimmed)


def open_csv(stream: BinaryIO, options: ParseOptions, *, filename: str) -> SimpleSource:
    source = sniff_csv(stream, options, filename=filename)
    layout = source.layout
    details: dict[str, object] = {
        "encoding": source.encoding.label, "delimiter": source.delimiter, "header_line": layout.header_line,
        "first_data_line": layout.first_data_line, "preamble_lines": list(layout.preamble_lines),
    }
    return SimpleSource(format=FileFormat.CSV, columns=layout.columns, details=details, default_mapping=None,
                        reader=lambda: source.batches(stream, options))


def sniff_csv(stream: BinaryIO, options: ParseOptions, *, filename: str) -> CsvSource:
    sample = read_sample(stream)
    if not sample:
        raise file_rejected(ErrorCode.FILE_EMPTY, "the file is empty")
    encoding = detect_encoding(sample, options.encoding)
    text = decode_sample(sample, encoding)
    translate_cr = "\r" in text and "\n" not in text
    if translate_cr:
        text = text.replace("\r", "\n")
    lines = split_lines(text, limit=500)
    delimiter = options.delimiter or sniff_delimiter(lines, prefer_tab=filename.lower().endswith(".tsv"))
    rows = parse_sample_rows(lines, delimiter)
    layout = detect_layout(rows, header_line=options.header_line, has_header=options.has_header)
    if layout is None:
        if options.header_line is not None:
            raise file_rejected(ErrorCode.NO_DATA_ROWS,
                                f"line {options.header_line} is not a header row in the first 500 lines")
        raise file_rejected(ErrorCode.NO_DATA_ROWS, "the file holds no table rows")
    return CsvSource(encoding=encoding, delimiter=delimiter, layout=layout, translate_cr=translate_cr)


def _drop_lines_before(block: TextBlock, first_line: int) -> TextBlock | None:
    skip = first_line - block.first_line
    if skip <= 0:
        return block
    if skip >= block.line_count:
        return None
    cut = -1
    for _ in range(skip):
        cut = block.text.index("\n", cut + 1)
    return TextBlock(text=block.text[cut + 1:], first_line=first_line,
                     line_count=block.line_count - skip, bad_lines=block.bad_lines)


def _rfc4180_line(delimiter: str) -> str:
    # A line of fields that are either fully quoted (with "" escapes) or contain no quote at all.
    d = re.escape(delimiter)
    field = f'(?:"(?:[^"]|"")*"|[^"{d}]*)'
    return f"^{field}(?:{d}{field})*$"


class _BlockTokenizer:
    def __init__(self, delimiter: str, columns: tuple[str, ...]) -> None:
        self.delimiter = delimiter
        self.columns = columns
        self.width = len(columns)
        self._positional = [f"c{i}" for i in range(self.width)]
        self._well_formed = _rfc4180_line(delimiter)
        self._line_sep = "\x1f" if delimiter != "\x1f" else "\x1e"
        self._delimiter_bytes = delimiter.encode("utf-8")

    def tokenize(self, block: TextBlock) -> RawBatch:
        batch = self._fast(block)
        return batch if batch is not None else self._slow(block)

    def _fast(self, block: TextBlock) -> RawBatch | None:
        text = block.text
        if "\r" in text and text.count("\r") != text.count("\r\n"):
            return None
        data = text.encode("utf-8")
        try:
            fields = pl.read_csv(data, has_header=False, separator=self.delimiter, quote_char=QUOTE,
                                 schema=dict.fromkeys(self._positional, pl.String),
                                 empty_string_is_null=False, raise_if_empty=False)
        except pl.exceptions.PolarsError:
            return None  # e.g. more fields than the header on some line: the slow path names it
        if fields.height != block.line_count:
            return None  # a quoted field spans lines, or polars merged/skipped something
        lines = pl.int_range(block.first_line, block.first_line + block.line_count, dtype=pl.Int64, eager=True)
        if QUOTE not in text and data.count(self._delimiter_bytes) == (self.width - 1) * block.line_count:
            # Polars refuses lines with too many fields; with the exact total, none has too few, and
            # none is blank (a blank line has no delimiter).
            return self._finish(fields.with_columns(lines.alias(LINE)), block, [])
        try:
            raw = pl.read_csv(data, has_header=False, separator=self._line_sep, quote_char=None,
                              schema={_RAW: pl.String}, empty_string_is_null=False, raise_if_empty=False)
        except pl.exceptions.PolarsError:
            return None
        if raw.height != block.line_count:
            return None
        raw_line = raw[_RAW]
        delimiters = raw_line.str.count_matches(self.delimiter, literal=True)
        if QUOTE in text:
            quoted = raw_line.str.contains(QUOTE, literal=True)
            if not (~quoted | raw_line.str.contains(self._well_formed)).all():
                return None
            inside = pl.sum_horizontal(pl.col(c).str.count_matches(self.delimiter, literal=True)
                                       for c in self._positional)
            delimiters = delimiters - fields.select(inside.alias("n")).to_series()
        frame = fields.with_columns(lines.alias(LINE), (delimiters == self.width - 1).alias("__fits"),
                                    (raw_line == "").alias("__blank"))
        frame = frame.filter(~pl.col("__blank"))
        raw_by_line = dict(zip(lines.to_list(), raw_line.to_list(), strict=True)) \
            if not frame["__fits"].all() else {}
        return self._finish(frame, block, [(line, raw_by_line[line]) for line in
                                           frame.filter(~pl.col("__fits"))[LINE].to_list()])

    def _finish(self, frame: pl.DataFrame, block: TextBlock, misfits: list[tuple[int, str]]) -> RawBatch:
        errors: list[RowError] = []
        if block.bad_lines:
            errors.extend(_encoding_error(line) for line in sorted(block.bad_lines))
            frame = frame.filter(~pl.col(LINE).is_in(list(block.bad_lines)))
        errors.extend(self._width_error(line, raw, self._field_count(raw)) for line, raw in misfits
                      if line not in block.bad_lines)
        if misfits:
            frame = frame.filter(pl.col("__fits"))
        frame = frame.select(LINE, *(pl.col(p).alias(c) for p, c in zip(self._positional, self.columns,
                                                                          strict=True)))
        return RawBatch(frame=frame, errors=sorted(errors, key=lambda e: e.line),
                        may_hold_separators=_holds_separators(block.text), may_hold_nul="\x00" in block.text,
                        may_hold_escapes=_holds_escapes(block.text))

    def _field_count(self, raw_line: str) -> int:
        return len(next(csv.reader([raw_line], delimiter=self.delimiter, quotechar=QUOTE), []))

    def _width_error(self, line: int, raw_line: str, found: int) -> RowError:
        return RowError(line=line, column=None, raw_value=raw_line[:200], code=ErrorCode.ROW_WIDTH_MISMATCH,
                        message=f"line {line} has {found} fields, the header has {self.width}")

    def _slow(self, block: TextBlock) -> RawBatch:
        lines = split_lines(block.text)
        reader = csv.reader(lines, delimiter=self.delimiter, quotechar=QUOTE, strict=True)
        good: list[list[str]] = []
        good_lines: list[int] = []
        errors: list[RowError] = []
        consumed = 0
        while True:
            start = block.first_line + consumed
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                consumed = reader.line_num
                end = block.first_line + consumed - 1
                span = f"line {start}" if end <= start else f"lines {start}-{end}"
                errors.append(RowError(line=start, column=None, raw_value=lines[start - block.first_line][:200],
                                       code=ErrorCode.CSV_MALFORMED,
                                       message=f"{span} cannot be read as CSV ({error}); check the quotes"))
                continue
            end = block.first_line + reader.line_num - 1
            consumed = reader.line_num
            if not fields:
                continue  # blank line
            if block.bad_lines and any(line in block.bad_lines for line in range(start, end + 1)):
                errors.append(_encoding_error(start))
                continue
            if len(fields) != self.width:
                errors.append(self._width_error(start, lines[start - block.first_line].rstrip("\r\n"),
                                                len(fields)))
                continue
            good.append(fields)
            good_lines.append(start)
        data: dict[str, pl.Series] = {LINE: pl.Series(LINE, good_lines, dtype=pl.Int64)}
        columns = list(zip(*good, strict=True)) if good else [() for _ in self.columns]
        for name, values in zip(self.columns, columns, strict=True):
            data[name] = pl.Series(name, list(values), dtype=pl.String)
        return RawBatch(frame=pl.DataFrame(data), errors=errors, may_hold_separators=_holds_separators(block.text),
                        may_hold_nul="\x00" in block.text, may_hold_escapes=_holds_escapes(block.text))


def _holds_separators(text: str) -> bool:
    return "\x1e" in text or "\x1f" in text


def _holds_escapes(text: str) -> bool:
    # A line break inside a value needs quotes, so a block without quotes has none; "\r\n" only ends lines.
    lone_cr = "\r" in text and text.count("\r") != text.count("\r\n")
    return "\\" in text or "\t" in text or lone_cr or QUOTE in text


def _encoding_error(line: int) -> RowError:
    return RowError(line=line, column=None, raw_value=None, code=ErrorCode.ENCODING_INVALID,
                    message=f"line {line} holds bytes that are not valid in the file's encoding")
