"""Column mapping (a reusable template per data source) and per-upload parse options."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from files.domain.currencies import currency_from_text
from files.domain.dates import compile_date_format
from files.domain.errors import ValueRejected


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    BOOLEAN = "boolean"


def _column_shorthand(value: Any) -> Any:
    """Templates may say "amount": "Betrag" instead of "amount": {"column": "Betrag"}."""
    return {"column": value} if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumberOptions(_Strict):
    decimal_separator: Literal[".", ","] | None = None
    thousands_separator: Literal[",", ".", " ", "\u00a0", "\u202f", "'", "\u2019"] | None = None

    @model_validator(mode="after")
    def _separators_differ(self) -> NumberOptions:
        if self.decimal_separator is not None and self.decimal_separator == self.thousands_separator:
            raise ValueError("decimal and thousands separators must differ")
        return self


class DateOptions(_Strict):
    date_format: str | None = None  # e.g. "DD/MM/YYYY", "MM/DD/YY", "YYYYMMDD", "%d.%m.%Y"

    @field_validator("date_format")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_date_format(value)
        return value


class TextColumn(_Strict):
    column: str
    required: bool = False


class AmountColumn(NumberOptions):
    column: str
    required: bool = True


class DateColumn(DateOptions):
    column: str
    required: bool = True


class BookingDateColumn(DateColumn):
    required: bool = False  # pending or older entries often have none


class CurrencySource(_Strict):
    """Exactly one of: a column holding codes (or unambiguous symbols), or one fixed code for all rows."""

    column: str | None = None
    fixed: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CurrencySource:
        if (self.column is None) == (self.fixed is None):
            raise ValueError("currency needs exactly one of 'column' or 'fixed'")
        if self.fixed is not None:
            try:
                code = currency_from_text(self.fixed)
            except ValueRejected as rejected:
                raise ValueError(rejected.message) from None
            if code != self.fixed:
                raise ValueError(f"fixed currency must be written as its ISO code {code!r}")
        return self


class ExtraField(NumberOptions, DateOptions):
    column: str
    type: FieldType = FieldType.TEXT
    required: bool = False


_EXTRA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

Text = Annotated[TextColumn, BeforeValidator(_column_shorthand)]
Amount = Annotated[AmountColumn, BeforeValidator(_column_shorthand)]
Date = Annotated[DateColumn, BeforeValidator(_column_shorthand)]
BookingDate = Annotated[BookingDateColumn, BeforeValidator(_column_shorthand)]
Extra = Annotated[ExtraField, BeforeValidator(_column_shorthand)]


class ColumnMapping(_Strict):
    """Source columns -> canonical fields. Round-trips through JSON unchanged (model_dump_json)."""

    version: Literal[1] = 1
    external_id: Text | None = None
    amount: Amount | None = None
    debit: Amount | None = None
    credit: Amount | None = None
    currency: CurrencySource | None = None
    value_date: Date | None = None
    booking_date: BookingDate | None = None
    reference: Text | None = None
    counterparty: Text | None = None
    description: Text | None = None
    extras: dict[str, Extra] = Field(default_factory=dict)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_shorthand(cls, value: Any) -> Any:
        return {"column": value} if isinstance(value, str) else value

    @field_validator("extras")
    @classmethod
    def _extra_names(cls, value: dict[str, ExtraField]) -> dict[str, ExtraField]:
        for name in value:
            if not _EXTRA_NAME.match(name):
                raise ValueError(f"extra field name {name!r} must match {_EXTRA_NAME.pattern}")
        return value

    @model_validator(mode="after")
    def _amount_sources(self) -> ColumnMapping:
        split = (self.debit is not None, self.credit is not None)
        if self.amount is not None and any(split):
            raise ValueError("map either 'amount' or 'debit' + 'credit', not both")
        if any(split) and not all(split):
            raise ValueError("'debit' and 'credit' are mapped together")
        if not self.has_amount and self.currency is not None and self.currency.column is None:
            raise ValueError("a fixed currency needs an amount")
        return self

    @property
    def has_amount(self) -> bool:
        return self.amount is not None or self.debit is not None

    def source_columns(self) -> list[str]:
        """Every source column the mapping reads, in a stable order, without duplicates."""
        refs: list[str] = []
        for ref in (self.external_id, self.amount, self.debit, self.credit, self.value_date,
                    self.booking_date, self.reference, self.counterparty, self.description):
            if ref is not None:
                refs.append(ref.column)
        if self.currency is not None and self.currency.column is not None:
            refs.append(self.currency.column)
        refs.extend(extra.column for extra in self.extras.values())
        return list(dict.fromkeys(refs))


class OnError(StrEnum):
    REJECT = "reject"  # any bad row: no rows, every error listed
    SKIP = "skip"  # good rows kept, bad rows listed


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSONL = "jsonl"
    CAMT053 = "camt053"
    MT940 = "mt940"


class ParseOptions(_Strict):
    on_error: OnError = OnError.REJECT
    max_reported_errors: int = Field(default=1000, ge=1, le=100_000)
    sample_rows: int = Field(default=10_000, ge=100)
    block_bytes: int = Field(default=4 * 1024 * 1024, ge=256)  # text per chunk: memory vs overhead
    xlsx_chunk_rows: int = Field(default=20_000, ge=1)
    format: FileFormat | None = None  # None: detect from content and file name
    encoding: str | None = None  # None: detect (BOM, UTF-8 check, then cp1252 / Latin-1)
    delimiter: Literal[",", ";", "\t", "|"] | None = None
    header_line: int | None = Field(default=None, ge=1)  # physical line of the header row
    has_header: bool | None = None  # None: detect
    sheet: str | None = None  # XLSX: None = first sheet
