"""Stable error codes and the two problem shapes: one bad row, or a problem with the whole file/column."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ErrorCode(StrEnum):
    # Row level: the row is skipped (on_error=skip) or the file is rejected (on_error=reject).
    AMOUNT_INVALID = "amount_invalid"
    AMOUNT_TOO_LARGE = "amount_too_large"
    DATE_INVALID = "date_invalid"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    CURRENCY_UNKNOWN = "currency_unknown"
    CURRENCY_AMBIGUOUS = "currency_ambiguous"
    CURRENCY_MISMATCH = "currency_mismatch"
    DEBIT_CREDIT_BOTH_SET = "debit_credit_both_set"
    DEBIT_CREDIT_MISSING = "debit_credit_missing"
    REQUIRED_MISSING = "required_missing"
    INTEGER_INVALID = "integer_invalid"
    BOOLEAN_INVALID = "boolean_invalid"
    VALUE_NOT_SCALAR = "value_not_scalar"
    TEXT_INVALID = "text_invalid"
    ENCODING_INVALID = "encoding_invalid"
    ROW_WIDTH_MISMATCH = "row_width_mismatch"
    CSV_MALFORMED = "csv_malformed"
    JSON_INVALID = "json_invalid"
    JSON_NOT_OBJECT = "json_not_object"
    STATEMENT_LINE_INVALID = "statement_line_invalid"
    ENTRY_INVALID = "entry_invalid"
    # File or column level: the ingestion fails whatever on_error says.
    DATE_FORMAT_AMBIGUOUS = "date_format_ambiguous"
    DATE_FORMAT_CONTRADICTORY = "date_format_contradictory"
    AMOUNT_FORMAT_AMBIGUOUS = "amount_format_ambiguous"
    AMOUNT_FORMAT_CONTRADICTORY = "amount_format_contradictory"
    COLUMN_NOT_FOUND = "column_not_found"
    MAPPING_REQUIRED = "mapping_required"
    MAPPING_INVALID = "mapping_invalid"
    FORMAT_UNSUPPORTED = "format_unsupported"
    FILE_EMPTY = "file_empty"
    NO_DATA_ROWS = "no_data_rows"
    NO_VALID_ROWS = "no_valid_rows"
    ENCODING_UNSUPPORTED = "encoding_unsupported"
    SHEET_NOT_FOUND = "sheet_not_found"
    XML_INVALID = "xml_invalid"
    STATEMENT_INVALID = "statement_invalid"
    STATEMENT_BALANCE_MISMATCH = "statement_balance_mismatch"
    TOO_MANY_ERRORS = "too_many_errors"


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad value or row. `line` is the 1-based physical line (spreadsheet row number for XLSX)."""

    line: int
    column: str | None
    raw_value: str | None
    code: ErrorCode
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "raw_value": self.raw_value,
                "code": self.code.value, "message": self.message}


@dataclass(frozen=True, slots=True)
class ValueExample:
    line: int
    raw_value: str


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A problem that no single row owns (an ambiguous date column, a missing column, a corrupt file)."""

    code: ErrorCode
    message: str
    column: str | None = None
    examples: tuple[ValueExample, ...] = field(default=())
    # What a translated message needs besides the column (e.g. a row count); English keeps `message`.
    params: Mapping[str, str | int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "message": self.message, "column": self.column,
                "examples": [{"line": e.line, "raw_value": e.raw_value} for e in self.examples],
                "params": dict(self.params)}


class ValueRejected(Exception):
    """Raised by the scalar value parsers; the caller attaches line and column."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FileRejected(Exception):
    """Raised inside readers when the file as a whole cannot be read; becomes a FileProblem."""

    def __init__(self, problem: FileProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def file_rejected(code: ErrorCode, message: str, *, column: str | None = None,
                  params: Mapping[str, str | int] | None = None) -> FileRejected:
    return FileRejected(FileProblem(code=code, message=message, column=column, params=params or {}))
