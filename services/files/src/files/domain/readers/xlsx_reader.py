"""XLSX via openpyxl in read-only mode: one row at a time, typed cells kept typed.

Numbers are IEEE doubles in the file; each becomes its shortest round-trip decimal text (what Excel
displays up to 15 digits), never a binary expansion. Date cells become dates (a time part is dropped:
the canonical fields are calendar dates). Formula cells contribute their cached value; a formula the
writing program never calculated has none and reads as empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import BinaryIO

from openpyxl import load_workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from files.domain.dialect import detect_layout
from files.domain.errors import ErrorCode, RowError, file_rejected
from files.domain.mapping import FileFormat, ParseOptions
from files.domain.raw import RawBatch, batch_from_cells, cell_to_text
from files.domain.sources import SimpleSource

SAMPLE_ROWS = 500


def _sheet(stream: BinaryIO, options: ParseOptions) -> ReadOnlyWorksheet:
    stream.seek(0)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a corrupt archive
        raise file_rejected(ErrorCode.FORMAT_UNSUPPORTED, f"the workbook cannot be read: {error}") from None
    if options.sheet is None:
        sheet = workbook.worksheets[0]
    elif options.sheet in workbook.sheetnames:
        sheet = workbook[options.sheet]
    else:
        raise file_rejected(ErrorCode.SHEET_NOT_FOUND,
                            f"the workbook has no sheet {options.sheet!r} (sheets: {', '.join(workbook.sheetnames)})",
                            params={"sheet": options.sheet})
    if not isinstance(sheet, ReadOnlyWorksheet):
        raise file_rejected(ErrorCode.FORMAT_UNSUPPORTED, f"{sheet.title!r} is a chart sheet, not a worksheet")
    return sheet


def _numbered_rows(sheet: ReadOnlyWorksheet) -> Iterator[tuple[int, list[object]]]:
    """(spreadsheet row number, cell values); empty rows carry no number, so count from the last one."""
    previous = 0
    for cells in sheet.iter_rows():
        number = next((c.row for c in cells if getattr(c, "row", None) is not None), previous + 1)
        previous = number
        yield number, [cell.value for cell in cells]


def _display(values: Sequence[object]) -> list[str]:
    return [cell_to_text(value)[0] or "" for value in values]


def open_xlsx(stream: BinaryIO, options: ParseOptions) -> SimpleSource:
    sheet = _sheet(stream, options)
    sample = []
    for number, values in _numbered_rows(sheet):
        sample.append((number, _display(values)))
        if len(sample) >= SAMPLE_ROWS:
            break
    layout = detect_layout(sample, header_line=options.header_line, has_header=options.has_header)
    if layout is None:
        raise file_rejected(ErrorCode.NO_DATA_ROWS, f"sheet {sheet.title!r} holds no table rows")
    details: dict[str, object] = {"sheet": sheet.title, "header_line": layout.header_line,
                                  "first_data_line": layout.first_data_line,
                                  "preamble_lines": list(layout.preamble_lines)}
    return SimpleSource(format=FileFormat.XLSX, columns=layout.columns, details=details, default_mapping=None,
                        reader=lambda: _batches(stream, options, layout.columns, layout.first_data_line))


def _batches(stream: BinaryIO, options: ParseOptions, columns: tuple[str, ...],
             first_data_line: int) -> Iterator[RawBatch]:
    width = len(columns)
    rows: list[tuple[int, Sequence[object]]] = []
    errors: list[RowError] = []
    for number, values in _numbered_rows(_sheet(stream, options)):
        if number < first_data_line:
            continue
        if all(value is None or (isinstance(value, str) and not value.strip()) for value in values):
            continue
        extra = [value for value in values[width:] if value is not None and value != ""]
        if extra:
            errors.append(RowError(line=number, column=None, raw_value=str(extra[0])[:200],
                                   code=ErrorCode.ROW_WIDTH_MISMATCH,
                                   message=f"row {number} has values beyond the {width} header columns"))
            continue
        rows.append((number, values))
        if len(rows) >= options.xlsx_chunk_rows:
            yield batch_from_cells(columns, rows, errors)
            rows, errors = [], []
    yield batch_from_cells(columns, rows, errors)
