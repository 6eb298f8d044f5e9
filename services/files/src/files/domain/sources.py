"""Format detection and the one interface every reader offers the pipeline."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from files.domain.errors import ErrorCode, FileProblem, file_rejected
from files.domain.mapping import ColumnMapping, FileFormat, ParseOptions
from files.domain.raw import RawBatch
from files.domain.text_source import read_sample


class TabularSource(Protocol):
    format: FileFormat
    columns: tuple[str, ...]
    details: dict[str, object]  # what the preview shows: encoding, delimiter, header line, sheet...
    default_mapping: ColumnMapping | None  # bank formats map themselves
    problems: list[FileProblem]  # file-level findings made while reading (e.g. balance mismatch)

    def batches(self) -> Iterator[RawBatch]:
        """Read from the start; may be called again for a second pass."""
        ...


@dataclass(slots=True)
class SimpleSource:
    format: FileFormat
    columns: tuple[str, ...]
    details: dict[str, object]
    default_mapping: ColumnMapping | None
    reader: Callable[[], Iterator[RawBatch]]  # a fresh iterator from the start of the file
    problems: list[FileProblem] = field(default_factory=list)

    def batches(self) -> Iterator[RawBatch]:
        return self.reader()


def detect_format(sample: bytes, filename: str) -> FileFormat:
    name = filename.lower()
    if sample.startswith(b"PK\x03\x04"):
        return FileFormat.XLSX
    head = sample[:4096]
    for bom in (b"\xef\xbb\xbf",):
        head = head.removeprefix(bom)
    text = head.decode("utf-8", errors="ignore") if not head.startswith((b"\xff\xfe", b"\xfe\xff")) \
        else head.decode("utf-16", errors="ignore")
    stripped = text.lstrip()
    if "camt.05" in text and (stripped.startswith("<") or name.endswith(".xml")):
        return FileFormat.CAMT053
    if stripped.startswith("<"):
        raise file_rejected(ErrorCode.FORMAT_UNSUPPORTED,
                            "this XML file is not an ISO 20022 camt.053 bank statement")
    if stripped.startswith(("{1:", ":20:")) or name.endswith((".sta", ".mt940", ".940")):
        return FileFormat.MT940
    if name.endswith((".jsonl", ".ndjson")) or (stripped.startswith("{") and not name.endswith((".csv", ".tsv"))):
        return FileFormat.JSONL
    if name.endswith((".xls",)):
        raise file_rejected(ErrorCode.FORMAT_UNSUPPORTED,
                            "legacy .xls workbooks are not supported; save the sheet as .xlsx or CSV")
    return FileFormat.CSV


def open_source(stream: BinaryIO, filename: str, options: ParseOptions) -> TabularSource:
    # Readers import this module (SimpleSource), and openpyxl/defusedxml are only needed for their
    # formats, so each reader is imported when a file of its format arrives.
    sample = read_sample(stream)
    if not sample:
        raise file_rejected(ErrorCode.FILE_EMPTY, "the file is empty")
    file_format = options.format or detect_format(sample, filename)
    if file_format is FileFormat.XLSX:
        if not zipfile.is_zipfile(stream):
            raise file_rejected(ErrorCode.FORMAT_UNSUPPORTED, "the file is not a valid .xlsx workbook")
        stream.seek(0)
        from files.domain.readers.xlsx_reader import open_xlsx

        return open_xlsx(stream, options)
    if file_format is FileFormat.CAMT053:
        from files.domain.readers.camt053 import open_camt053

        return open_camt053(stream, options)
    if file_format is FileFormat.MT940:
        from files.domain.readers.mt940 import open_mt940

        return open_mt940(stream, options)
    if file_format is FileFormat.JSONL:
        from files.domain.readers.jsonl_reader import open_jsonl

        return open_jsonl(stream, options)
    from files.domain.readers.csv_reader import open_csv

    return open_csv(stream, options, filename=filename)
