"""A mapping bound to one file's columns: which source column feeds which field, and how it's read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl

from files.domain.amounts import NumberFormat
from files.domain.dates import DateOrder, ExplicitDateFormat, compile_date_format
from files.domain.errors import ErrorCode, FileProblem
from files.domain.inference import UNDECIDED, AmountProfile, DateProfile, Undecided, distinct_with_first_line
from files.domain.mapping import AmountColumn, ColumnMapping, DateColumn, ExtraField, FieldType, TextColumn
from files.domain.raw import LINE, CellKind, RawBatch, kind_column


class FieldKind(StrEnum):
    TEXT = "text"
    AMOUNT = "amount"  # also decimal extras
    DATE = "date"
    CURRENCY = "currency"
    INTEGER = "integer"
    BOOLEAN = "boolean"


_EXTRA_KINDS = {FieldType.TEXT: FieldKind.TEXT, FieldType.DECIMAL: FieldKind.AMOUNT, FieldType.DATE: FieldKind.DATE,
                FieldType.INTEGER: FieldKind.INTEGER, FieldType.BOOLEAN: FieldKind.BOOLEAN}


@dataclass(frozen=True, slots=True)
class PlannedField:
    name: str  # canonical field name, or the extra's name
    output: str  # column in the normalised frame
    column: str  # source column as spelled in the file
    kind: FieldKind
    required: bool
    extra: bool = False
    explicit_number: NumberFormat | None = None
    explicit_date: ExplicitDateFormat | None = None


DateResolution = ExplicitDateFormat | DateOrder | None


@dataclass(slots=True)
class Resolved:
    numbers: dict[str, NumberFormat] = field(default_factory=dict)  # by PlannedField.output
    dates: dict[str, DateResolution] = field(default_factory=dict)


def extra_output(name: str) -> str:
    return f"x_{name}"


def _match_column(wanted: str, columns: Sequence[str]) -> str | None:
    if wanted in columns:
        return wanted
    # Headers often differ only in case or padding ("Amount " vs "amount"); accept a unique such match.
    folded = [c for c in columns if c.strip().casefold() == wanted.strip().casefold()]
    return folded[0] if len(folded) == 1 else None


def _number_options(ref: AmountColumn | ExtraField) -> NumberFormat | None:
    if ref.decimal_separator is None and ref.thousands_separator is None:
        return None
    return NumberFormat(ref.decimal_separator, ref.thousands_separator)


@dataclass(slots=True)
class Plan:
    mapping: ColumnMapping
    fields: list[PlannedField]
    fixed_currency: str | None
    amount_profiles: dict[str, AmountProfile] = field(default_factory=dict)
    date_profiles: dict[str, DateProfile] = field(default_factory=dict)

    def by_name(self, name: str) -> PlannedField | None:
        return next((f for f in self.fields if f.name == name and not f.extra), None)

    def observe(self, batch: RawBatch, only: set[str] | None = None) -> None:
        """Feed each profiled field's distinct text values (typed cells carry no format evidence)."""
        frame = batch.frame
        for planned in self.fields:
            if only is not None and planned.output not in only:
                continue
            profile: AmountProfile | DateProfile | None = (
                self.amount_profiles.get(planned.output) if planned.kind is FieldKind.AMOUNT
                else self.date_profiles.get(planned.output) if planned.kind is FieldKind.DATE else None)
            if profile is None:
                continue
            where = None
            if kind_column(planned.column) in frame.columns:
                where = pl.col(kind_column(planned.column)) == int(CellKind.TEXT)
            if planned.kind is FieldKind.AMOUNT:
                # Only values with a "." or "," can say anything about the decimal separator.
                has_mark = pl.col(planned.column).str.contains(r"[.,]")
                where = has_mark if where is None else where & has_mark
                for value, line in _amount_shapes(frame, planned.column, where):
                    profile.observe(value, line)
            else:
                for value, line in distinct_with_first_line(frame, planned.column, where=where):
                    profile.observe(value, line)

    def resolve(self, *, complete: bool) -> tuple[Resolved, list[FileProblem], set[str]]:
        """Formats decided so far, problems, and the fields still undecided (they need the whole column)."""
        resolved, problems, undecided = Resolved(), [], set()
        for name, amount_profile in self.amount_profiles.items():
            number = amount_profile.resolve(complete=complete)
            if isinstance(number, Undecided):
                undecided.add(name)
            elif isinstance(number, FileProblem):
                problems.append(number)
            else:
                resolved.numbers[name] = number
        for name, date_profile in self.date_profiles.items():
            outcome = date_profile.resolve(complete=complete)
            if outcome is UNDECIDED:
                undecided.add(name)
            elif isinstance(outcome, FileProblem):
                problems.append(outcome)
            elif not isinstance(outcome, Undecided):
                resolved.dates[name] = outcome
        return resolved, problems, undecided


def _amount_shapes(frame: pl.DataFrame, column: str, where: pl.Expr) -> list[tuple[str, int]]:
    """One representative value per shape. A value's separator evidence depends only on where its
    digits and marks are and on whether its first digit is 0 ("0,123" vs "1,234"), so values with the
    same digit-masked shape and leading-zero flag always give the same evidence."""
    shapes = (frame.lazy().filter(where)
              .select(pl.col(column).alias("v"), pl.col(LINE),
                      pl.col(column).str.replace_all("[0-9]", "9").alias("shape"),
                      pl.col(column).str.contains("^[^0-9]*0").alias("zero"))
              .group_by("shape", "zero").agg(pl.col("v").sort_by(LINE).first(), pl.col(LINE).min())
              .sort(LINE).collect())
    return list(zip(shapes["v"].to_list(), shapes[LINE].to_list(), strict=True))


def build_plan(mapping: ColumnMapping, columns: Sequence[str]) -> Plan | list[FileProblem]:
    problems: list[FileProblem] = []
    fields: list[PlannedField] = []

    def column_for(wanted: str, what: str) -> str | None:
        found = _match_column(wanted, columns)
        if found is None:
            listed = ", ".join(repr(c) for c in columns[:30])
            problems.append(FileProblem(code=ErrorCode.COLUMN_NOT_FOUND, column=wanted,
                                        message=f"{what} is mapped to column {wanted!r}, which the file does "
                                                f"not have (columns: {listed})"))
        return found

    def add(name: str, ref: TextColumn | AmountColumn | DateColumn | ExtraField | None, kind: FieldKind,
            *, extra: bool = False) -> None:
        if ref is None:
            return
        column = column_for(ref.column, f"{'extra ' if extra else ''}{name!r}")
        if column is None:
            return
        explicit_number = _number_options(ref) if isinstance(ref, AmountColumn | ExtraField) else None
        explicit_date = None
        if isinstance(ref, DateColumn | ExtraField) and ref.date_format is not None:
            explicit_date = compile_date_format(ref.date_format)
        fields.append(PlannedField(name=name, output=extra_output(name) if extra else name, column=column,
                                   kind=kind, required=ref.required, extra=extra,
                                   explicit_number=explicit_number, explicit_date=explicit_date))

    add("external_id", mapping.external_id, FieldKind.TEXT)
    add("amount", mapping.amount, FieldKind.AMOUNT)
    add("debit", mapping.debit, FieldKind.AMOUNT)
    add("credit", mapping.credit, FieldKind.AMOUNT)
    add("value_date", mapping.value_date, FieldKind.DATE)
    add("booking_date", mapping.booking_date, FieldKind.DATE)
    add("reference", mapping.reference, FieldKind.TEXT)
    add("counterparty", mapping.counterparty, FieldKind.TEXT)
    add("description", mapping.description, FieldKind.TEXT)
    fixed_currency = None
    if mapping.currency is not None:
        if mapping.currency.column is not None:
            add("currency", TextColumn(column=mapping.currency.column, required=False), FieldKind.CURRENCY)
        fixed_currency = mapping.currency.fixed
    for name in sorted(mapping.extras):
        extra = mapping.extras[name]
        add(name, extra, _EXTRA_KINDS[extra.type], extra=True)
    if problems:
        return problems
    plan = Plan(mapping=mapping, fields=fields, fixed_currency=fixed_currency)
    for planned in fields:
        if planned.kind is FieldKind.AMOUNT:
            plan.amount_profiles[planned.output] = AmountProfile(planned.column, planned.explicit_number)
        elif planned.kind is FieldKind.DATE:
            plan.date_profiles[planned.output] = DateProfile(planned.column, planned.explicit_date)
    return plan
