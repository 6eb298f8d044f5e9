"""Per-field conversion plans: polars expressions for simple shapes, scalar parsers for the rest.

The scalar parsers (amounts.py, dates.py, currencies.py) define the behaviour. The vectorised fast
path only accepts shapes whose result it reproduces exactly (property-tested against them); every
other distinct value goes through the scalar parser once per batch ("lookup").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from files.domain.amounts import MAX_DIGITS, WHITESPACE, NumberFormat, parse_amount
from files.domain.currencies import KNOWN_CURRENCIES, currency_from_text
from files.domain.dates import ExplicitDateFormat, parse_date, parse_date_explicit
from files.domain.errors import ErrorCode, ValueRejected
from files.domain.inference import DateProfile
from files.domain.plan import DateResolution, FieldKind, PlannedField
from files.domain.raw import LINE, CellKind

ScalarResult = tuple[object, ...]
NULL_TEXT = pl.lit(None, dtype=pl.String)


CACHE_LIMIT = 50_000  # distinct values remembered across batches (dates repeat; free-form amounts don't)


@dataclass(slots=True)
class Lookup:
    """Run `scalar(value, first_line)` once per distinct key; its outputs join back by key.

    `cache` carries results across the batches of one file, so a date seen in the first batch is
    not parsed again (its first line was already recorded by the scalar's profile)."""

    key: str
    scalar: Callable[[str, int], ScalarResult]
    outputs: list[tuple[str, pl.DataType]]
    cache: dict[str, ScalarResult] = field(default_factory=dict)

    def build(self, frame: pl.DataFrame) -> pl.DataFrame | None:
        keys = frame.select(pl.col(self.key), pl.col(LINE)).drop_nulls(self.key)
        if keys.height == 0:
            return None
        distinct = keys.group_by(self.key).agg(pl.col(LINE).min()).sort(LINE)
        columns: list[list[object]] = [[] for _ in self.outputs]
        cache = self.cache
        for value, line in distinct.iter_rows():
            result = cache.get(value)
            if result is None:
                result = self.scalar(value, line)
                if len(cache) < CACHE_LIMIT:
                    cache[value] = result
            for index, item in enumerate(result):
                columns[index].append(item)
        data = {self.key: distinct[self.key]}
        for (name, dtype), values in zip(self.outputs, columns, strict=True):
            data[name] = pl.Series(name, values, dtype=dtype)
        return pl.DataFrame(data)


@dataclass(slots=True)
class FieldConversion:
    planned: PlannedField
    prepare: list[pl.Expr]  # helper columns computed on the raw frame
    lookup: Lookup | None
    value: pl.Expr  # evaluated after the lookup joined
    code: pl.Expr  # String error code or null
    message: pl.Expr  # String message or null (null: a default message for the code)
    blank: pl.Expr  # no value at all
    indicator: pl.Expr = field(default_factory=lambda: NULL_TEXT)  # amounts: sign indicator name
    token: pl.Expr = field(default_factory=lambda: NULL_TEXT)  # amounts: currency written in the value

    def lookup_columns(self) -> list[str]:
        return [name for name, _ in self.lookup.outputs] if self.lookup is not None else []


def _name(planned: PlannedField, part: str) -> str:
    return f"{planned.output}\x00{part}"


def _kind_is(kind: str | None, *wanted: CellKind) -> pl.Expr:
    if kind is None:
        return pl.lit(CellKind.TEXT in wanted)
    return pl.col(kind).is_in([int(w) for w in wanted])


def _nested(kind: str | None) -> pl.Expr:
    return (pl.col(kind) == int(CellKind.NESTED)) if kind is not None else pl.lit(False)


def _is_blank(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column) == "")


def _rejected(rejected: ValueRejected, width: int) -> ScalarResult:
    return (None,) * (width - 3) + (rejected.code.value, rejected.message, False)


def _blank_result(width: int) -> ScalarResult:
    return (None,) * (width - 1) + (True,)


def text_conversion(planned: PlannedField, kind: str | None, *, check_nul: bool) -> FieldConversion:
    stripped = _name(planned, "s")
    value = pl.when(pl.col(stripped) == "").then(None).otherwise(pl.col(stripped))
    # Postgres text cannot hold NUL; storing the rest of the value would lose it silently.
    has_nul = pl.col(stripped).str.contains("\x00", literal=True) if check_nul else pl.lit(False)
    code = (pl.when(_nested(kind)).then(pl.lit(ErrorCode.VALUE_NOT_SCALAR.value))
            .when(has_nul).then(pl.lit(ErrorCode.TEXT_INVALID.value)).otherwise(NULL_TEXT))
    return FieldConversion(
        planned, prepare=[pl.col(planned.column).str.strip_chars().alias(stripped)], lookup=None, value=value,
        code=code, message=NULL_TEXT, blank=_is_blank(stripped))


def integer_conversion(planned: PlannedField, kind: str | None) -> FieldConversion:
    stripped = _name(planned, "s")
    text_ok = pl.col(stripped).str.contains(r"^[+-]?[0-9]{1,18}$") & _kind_is(kind, CellKind.TEXT)
    # Typed numbers may carry a zero fraction ("12.0" from JSON or a spreadsheet).
    number_ok = pl.col(stripped).str.contains(r"^-?[0-9]{1,18}(?:\.0+)?$") & _kind_is(kind, CellKind.NUMBER)
    valid = (text_ok | number_ok).fill_null(False)
    digits = pl.col(stripped).str.replace(r"\.0+$", "").str.replace(r"^\+", "")
    blank = _is_blank(stripped)
    return FieldConversion(
        planned, prepare=[pl.col(planned.column).str.strip_chars().alias(stripped)], lookup=None,
        value=pl.when(valid).then(digits.cast(pl.Int64, strict=False)),
        code=pl.when(~valid & ~blank).then(pl.lit(ErrorCode.INTEGER_INVALID.value)).otherwise(NULL_TEXT),
        message=NULL_TEXT, blank=blank)


def _fast_amount(fmt: NumberFormat) -> tuple[str, list[tuple[str, str]]] | None:
    """One regex for the plain and the grouped shape, and the literal replacements to canonical text."""
    int_part = r"(?:0|[1-9][0-9]*)"
    if fmt.decimal is None:
        return rf"^-?{int_part}$", []
    d = re.escape(fmt.decimal)
    group = "," if fmt.decimal == "." else "."
    replacements = [] if group not in fmt.allowed_thousands() else [(group, "")]
    if fmt.decimal == ",":
        replacements.append((",", "."))
    grouped = rf"|[1-9][0-9]{{0,2}}(?:{re.escape(group)}[0-9]{{3}})+" if group in fmt.allowed_thousands() else ""
    return rf"^-?(?:{int_part}{grouped})(?:{d}[0-9]+)?$", replacements


def amount_conversion(planned: PlannedField, kind: str | None, fmt: NumberFormat, origin: str) -> FieldConversion:
    source = pl.col(planned.column)
    fast_name, key_name = _name(planned, "fast"), _name(planned, "key")
    is_text, is_number = _kind_is(kind, CellKind.TEXT), _kind_is(kind, CellKind.NUMBER)
    pattern, replacements = _fast_amount(fmt)  # type: ignore[misc]
    converted = source
    for old, new in replacements:
        converted = converted.str.replace_all(old, new, literal=True)
    # "-0..." goes to the scalar path, which writes negative zero as zero.
    simple = (is_text & source.str.contains(pattern) & ~source.str.starts_with("-0")
              & (source.str.len_bytes() <= MAX_DIGITS)).fill_null(False)
    fast = pl.when(simple).then(converted).otherwise(NULL_TEXT)
    key = pl.when(~simple & is_text & (source != "")).then(source).otherwise(NULL_TEXT)

    def scalar(value: str, _line: int) -> ScalarResult:
        if not value.strip(WHITESPACE):
            return _blank_result(6)
        try:
            parsed = parse_amount(value, fmt, origin=origin)
        except ValueRejected as rejected:
            return _rejected(rejected, 6)
        indicator = parsed.indicator.value if parsed.indicator is not None else None
        return parsed.text, indicator, parsed.currency_token, None, None, False

    names = [_name(planned, n) for n in ("text", "indicator", "token", "code", "message", "blank")]
    lookup = Lookup(key_name, scalar, [(names[0], pl.String()), (names[1], pl.String()), (names[2], pl.String()),
                                       (names[3], pl.String()), (names[4], pl.String()), (names[5], pl.Boolean())])
    looked = [pl.col(n) for n in names]
    value = pl.when(is_number).then(source).otherwise(pl.coalesce(pl.col(fast_name), looked[0]))
    blank = _is_blank(planned.column) | looked[5].fill_null(False)
    minus = (pl.col(fast_name).is_not_null() | is_number) & source.str.starts_with("-")
    typed_other = ~(is_text | is_number) & ~blank
    code = (pl.when(_nested(kind) & ~blank).then(pl.lit(ErrorCode.VALUE_NOT_SCALAR.value))
            .when(typed_other).then(pl.lit(ErrorCode.AMOUNT_INVALID.value))
            .when(is_number & (source.str.len_bytes() > MAX_DIGITS + 2))
            .then(pl.lit(ErrorCode.AMOUNT_TOO_LARGE.value)).otherwise(looked[3]))
    return FieldConversion(planned, prepare=[fast.alias(fast_name), key.alias(key_name)], lookup=lookup,
                           value=value, code=code, message=looked[4], blank=blank,
                           indicator=pl.when(minus).then(pl.lit("minus")).otherwise(looked[1]), token=looked[2])


def _lookup_conversion(planned: PlannedField, key_expr: pl.Expr, scalar: Callable[[str, int], ScalarResult],
                       dtype: pl.DataType, code: pl.Expr | None = None) -> FieldConversion:
    key_name = _name(planned, "key")
    names = [_name(planned, n) for n in ("value", "code", "message", "blank")]
    lookup = Lookup(key_name, scalar, [(names[0], dtype), (names[1], pl.String()), (names[2], pl.String()),
                                       (names[3], pl.Boolean())])
    blank = _is_blank(planned.column) | pl.col(names[3]).fill_null(False)
    final_code = pl.col(names[1]) if code is None else pl.when(code & ~blank).then(
        pl.lit(ErrorCode.VALUE_NOT_SCALAR.value)).otherwise(pl.col(names[1]))
    return FieldConversion(planned, prepare=[key_expr.alias(key_name)], lookup=lookup, value=pl.col(names[0]),
                           code=final_code, message=pl.col(names[2]), blank=blank)


def date_conversion(planned: PlannedField, kind: str | None, resolution: DateResolution,
                    profile: DateProfile | None) -> FieldConversion:
    source = pl.col(planned.column)

    def scalar(value: str, line: int) -> ScalarResult:
        if not value.strip(WHITESPACE):
            return _blank_result(4)
        if profile is not None and not isinstance(resolution, ExplicitDateFormat):
            profile.observe(value, line)  # keeps checking the whole column against the inferred order
        try:
            if isinstance(resolution, ExplicitDateFormat):
                return parse_date_explicit(value, resolution), None, None, False
            return parse_date(value, resolution), None, None, False
        except ValueRejected as rejected:
            return _rejected(rejected, 4)

    is_datelike = _kind_is(kind, CellKind.TEXT, CellKind.DATE)
    conversion = _lookup_conversion(planned, pl.when(is_datelike).then(source).otherwise(NULL_TEXT),
                                    scalar, pl.Date())
    not_a_date = ~is_datelike & ~conversion.blank
    conversion.code = (pl.when(_nested(kind) & ~conversion.blank).then(pl.lit(ErrorCode.VALUE_NOT_SCALAR.value))
                       .when(not_a_date).then(pl.lit(ErrorCode.DATE_INVALID.value)).otherwise(conversion.code))
    return conversion


def currency_conversion(planned: PlannedField, kind: str | None) -> FieldConversion:
    def scalar(value: str, _line: int) -> ScalarResult:
        if not value.strip(WHITESPACE):
            return _blank_result(4)
        try:
            return currency_from_text(value), None, None, False
        except ValueRejected as rejected:
            return _rejected(rejected, 4)

    source = pl.col(planned.column)
    is_text = _kind_is(kind, CellKind.TEXT)
    # Upper-case ISO codes are their own canonical form; only the rest need the scalar parser.
    known = (is_text & source.is_in(sorted(KNOWN_CURRENCIES))).fill_null(False)
    conversion = _lookup_conversion(planned, pl.when(is_text & ~known).then(source).otherwise(NULL_TEXT),
                                    scalar, pl.String())
    conversion.value = pl.when(known).then(source).otherwise(conversion.value)
    typed = ~is_text & ~conversion.blank
    conversion.code = (pl.when(_nested(kind) & ~conversion.blank).then(pl.lit(ErrorCode.VALUE_NOT_SCALAR.value))
                       .when(typed).then(pl.lit(ErrorCode.CURRENCY_UNKNOWN.value)).otherwise(conversion.code))
    return conversion


_TRUE = frozenset({"true", "yes", "y", "1", "t", "ja", "wahr", "x"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "nein", "falsch"})


def boolean_conversion(planned: PlannedField, kind: str | None) -> FieldConversion:
    def scalar(value: str, _line: int) -> ScalarResult:
        folded = value.strip(WHITESPACE).casefold()
        if not folded:
            return _blank_result(4)
        if folded in _TRUE:
            return True, None, None, False
        if folded in _FALSE:
            return False, None, None, False
        return None, ErrorCode.BOOLEAN_INVALID.value, f"{value!r} is not a yes/no value", False

    nested = (pl.col(kind) == int(CellKind.NESTED)) if kind is not None else None
    return _lookup_conversion(planned, pl.col(planned.column), scalar, pl.Boolean(), code=nested)


def build_conversion(planned: PlannedField, kind: str | None, *, number: NumberFormat | None,
                     origin: str, dates: DateResolution, profile: DateProfile | None,
                     check_nul: bool = True) -> FieldConversion:
    if planned.kind is FieldKind.AMOUNT:
        assert number is not None
        return amount_conversion(planned, kind, number, origin)
    if planned.kind is FieldKind.DATE:
        return date_conversion(planned, kind, dates, profile)
    if planned.kind is FieldKind.CURRENCY:
        return currency_conversion(planned, kind)
    if planned.kind is FieldKind.INTEGER:
        return integer_conversion(planned, kind)
    if planned.kind is FieldKind.BOOLEAN:
        return boolean_conversion(planned, kind)
    return text_conversion(planned, kind, check_nul=check_nul)
