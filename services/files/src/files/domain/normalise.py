"""Raw batch -> canonical columns + one RowError per bad value. Bad rows never reach the output frame.

Debit/credit columns: exactly one must hold a non-zero value. A minus (or DR, or parentheses) in
the debit column is accepted (many banks print debits negative); a CR mark there, or any negative
mark in the credit column, is an error. Both empty is an error when the amount is required; a zero
in one and nothing in the other is a zero amount.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from files.domain.convert import NULL_TEXT, FieldConversion, Lookup, ScalarResult, build_conversion
from files.domain.currencies import resolve_amount_currency
from files.domain.errors import ErrorCode, RowError, ValueRejected
from files.domain.plan import FieldKind, Plan, Resolved
from files.domain.raw import LINE, RawBatch, kind_column

CANONICAL_DTYPES: dict[str, pl.DataType] = {
    "external_id": pl.String(), "amount": pl.String(), "currency": pl.String(), "value_date": pl.Date(),
    "booking_date": pl.Date(), "reference": pl.String(), "counterparty": pl.String(),
    "description": pl.String(),
}
EXTRA_DTYPES: dict[FieldKind, pl.DataType] = {
    FieldKind.TEXT: pl.String(), FieldKind.AMOUNT: pl.String(), FieldKind.DATE: pl.Date(),
    FieldKind.INTEGER: pl.Int64(), FieldKind.BOOLEAN: pl.Boolean(),
}
# Reported once for the whole column (inference.DateProfile), not once per row.
COLUMN_LEVEL_CODES = frozenset({ErrorCode.DATE_FORMAT_AMBIGUOUS.value})
_ZERO = r"^-?0(?:\.0+)?$"
_NEGATIVE_MARKS = ["minus", "trailing minus", "parentheses", "DR"]


@dataclass(slots=True)
class _Check:
    label: str  # the column named in the error
    raw: pl.Expr  # the value shown in the error
    code: pl.Expr
    message: pl.Expr


@dataclass(slots=True)
class NormalisedBatch:
    frame: pl.DataFrame  # LINE, canonical columns, x_<extra> columns; good rows only
    errors: list[RowError]
    may_hold_separators: bool = True


def default_message(code: str, column: str, raw: str | None) -> str:
    shown = repr(raw) if raw is not None else "the value"
    messages = {
        ErrorCode.REQUIRED_MISSING.value: f"{column!r} is empty but required",
        ErrorCode.VALUE_NOT_SCALAR.value: f"{column!r} holds a nested value; a single value is needed",
        ErrorCode.TEXT_INVALID.value: f"{column!r} holds a NUL character, which text cannot store",
        ErrorCode.AMOUNT_INVALID.value: f"{shown} is not an amount",
        ErrorCode.AMOUNT_TOO_LARGE.value: f"{shown} has too many digits for an amount",
        ErrorCode.DATE_INVALID.value: f"{shown} is not a date",
        ErrorCode.INTEGER_INVALID.value: f"{shown} is not a whole number",
        ErrorCode.CURRENCY_UNKNOWN.value: f"{shown} is not an ISO 4217 currency code",
    }
    return messages.get(code, f"{shown} is not valid in {column!r}")


def _o(output: str) -> str:
    """Working-frame name of a field's value; source columns keep their own names for error messages."""
    return f"\x00{output}"


def _code(code: ErrorCode) -> pl.Expr:
    return pl.lit(code.value)


def _join(lazy: pl.LazyFrame, frame: pl.DataFrame, lookup: Lookup) -> tuple[pl.LazyFrame, pl.DataFrame | None]:
    table = lookup.build(frame)
    if table is None:
        nulls = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in lookup.outputs]
        return lazy.with_columns(nulls), None
    # Only the key column is joined, and the looked-up columns are attached beside the frame: joining the whole
    # frame made polars gather every one of its columns (all the text) into join order, ~0.2 CPU-s per million
    # rows per lookup. The table's keys are distinct, so the left join yields exactly one row per frame row.
    looked_up = frame.select(lookup.key).join(table, on=lookup.key, how="left", maintain_order="left")
    return lazy.with_columns(looked_up.drop(lookup.key).get_columns()), table


class Normaliser:
    def __init__(self, plan: Plan, resolved: Resolved) -> None:
        self.plan = plan
        self.resolved = resolved
        self._caches: dict[str, dict[str, ScalarResult]] = {}  # per field, across this file's batches

    def _conversions(self, batch: RawBatch) -> list[FieldConversion]:
        frame = batch.frame
        conversions = []
        for planned in self.plan.fields:
            kind = kind_column(planned.column)
            number = self.resolved.numbers.get(planned.output)
            profile = self.plan.amount_profiles.get(planned.output)
            origin = profile.describe_origin(number) if profile is not None and number is not None else ""
            conversion = build_conversion(
                planned, kind if kind in frame.columns else None, number=number, origin=origin,
                dates=self.resolved.dates.get(planned.output), profile=self.plan.date_profiles.get(planned.output),
                check_nul=batch.may_hold_nul)
            if conversion.lookup is not None:
                conversion.lookup.cache = self._caches.setdefault(planned.output, {})
            conversions.append(conversion)
        return conversions

    def normalise(self, batch: RawBatch) -> NormalisedBatch:
        conversions = self._conversions(batch)
        # Lazy, so shared sub-expressions (the fast-path regex) are evaluated once.
        prepared = batch.frame.lazy().with_columns(e for c in conversions for e in c.prepare).collect()
        lazy = prepared.lazy()
        written_currency = False
        for conversion in conversions:
            if conversion.lookup is not None:
                lazy, table = _join(lazy, prepared, conversion.lookup)
                token = f"{conversion.planned.output}\x00token"
                if table is not None and token in table.columns and table[token].null_count() < table.height:
                    written_currency = True
        checks: list[_Check] = []
        stage: list[pl.Expr] = []
        for conversion in conversions:
            planned = conversion.planned
            out = planned.output
            code = conversion.code
            if planned.required and planned.name not in ("debit", "credit"):
                code = pl.when(conversion.blank & code.is_null()).then(_code(ErrorCode.REQUIRED_MISSING)) \
                    .otherwise(code)
            stage += [conversion.value.alias(_o(out)), code.alias(f"{out}\x00c"),
                      conversion.message.alias(f"{out}\x00m"), conversion.blank.alias(f"{out}\x00b"),
                      conversion.indicator.alias(f"{out}\x00i"), conversion.token.alias(f"{out}\x00t")]
            checks.append(_Check(planned.column, pl.col(planned.column), pl.col(f"{out}\x00c"),
                                 pl.col(f"{out}\x00m")))
        lazy = lazy.with_columns(stage)
        lazy, amount_token = self._amount(lazy, checks)
        if amount_token is not None:
            lazy = self._currency(lazy, amount_token, checks, written_currency)
        result = self._finish(lazy, checks)
        result.may_hold_separators = batch.may_hold_separators
        return result

    def _amount(self, frame: pl.LazyFrame, checks: list[_Check]) -> tuple[pl.LazyFrame, str | None]:
        if self.plan.by_name("amount") is not None:
            return frame, "amount\x00t"
        debit_field, credit_field = self.plan.by_name("debit"), self.plan.by_name("credit")
        if debit_field is None or credit_field is None:
            return frame, None
        debit, credit = pl.col(_o("debit")), pl.col(_o("credit"))
        credit_in_debit = pl.col("debit\x00i") == "CR"
        negative_credit = pl.col("credit\x00i").is_in(_NEGATIVE_MARKS)
        debit_code = pl.when(credit_in_debit).then(_code(ErrorCode.AMOUNT_INVALID)).otherwise(pl.col("debit\x00c"))
        debit_message = pl.when(credit_in_debit).then(
            pl.lit("a debit column cannot hold a credit (CR) amount")).otherwise(pl.col("debit\x00m"))
        credit_code = pl.when(negative_credit).then(_code(ErrorCode.AMOUNT_INVALID)).otherwise(pl.col("credit\x00c"))
        credit_message = pl.when(negative_credit).then(
            pl.lit("a credit column holds money in; this value is negative")).otherwise(pl.col("credit\x00m"))
        frame = frame.with_columns(debit_code.alias("debit\x00c"), debit_message.alias("debit\x00m"),
                                   credit_code.alias("credit\x00c"), credit_message.alias("credit\x00m"))
        debit_filled = (debit.is_not_null() & ~debit.str.contains(_ZERO)).fill_null(False)
        credit_filled = (credit.is_not_null() & ~credit.str.contains(_ZERO)).fill_null(False)
        parsed_ok = pl.col("debit\x00c").is_null() & pl.col("credit\x00c").is_null()
        both_blank = pl.col("debit\x00b") & pl.col("credit\x00b")
        missing = both_blank if debit_field.required else pl.lit(False)
        pair_code = (pl.when(debit_filled & credit_filled & parsed_ok).then(_code(ErrorCode.DEBIT_CREDIT_BOTH_SET))
                     .when(missing).then(_code(ErrorCode.DEBIT_CREDIT_MISSING)))
        pair_message = (
            pl.when(pl.col("pair\x00c") == ErrorCode.DEBIT_CREDIT_BOTH_SET.value)
            .then(pl.lit("both the debit and the credit column are filled; exactly one must be"))
            .when(pl.col("pair\x00c") == ErrorCode.DEBIT_CREDIT_MISSING.value)
            .then(pl.lit("neither the debit nor the credit column is filled; exactly one must be")))
        debit_abs, credit_abs = debit.str.strip_prefix("-"), credit.str.strip_prefix("-")
        amount = (pl.when(debit_filled).then(pl.concat_str([pl.lit("-"), debit_abs]))
                  .when(credit_filled).then(credit_abs).otherwise(pl.coalesce(debit_abs, credit_abs)))
        token = pl.when(debit_filled).then(pl.col("debit\x00t")).otherwise(pl.col("credit\x00t"))
        frame = frame.with_columns(pair_code.otherwise(NULL_TEXT).alias("pair\x00c"), amount.alias(_o("amount")),
                                   token.alias("amount\x00t"))
        frame = frame.with_columns(pair_message.otherwise(NULL_TEXT).alias("pair\x00m"))
        pair_raw = pl.concat_str([pl.col(debit_field.column).fill_null(""), pl.lit(" | "),
                                  pl.col(credit_field.column).fill_null("")])
        checks.append(_Check(f"{debit_field.column} | {credit_field.column}", pair_raw, pl.col("pair\x00c"),
                             pl.col("pair\x00m")))
        return frame, "amount\x00t"

    def _currency(self, frame: pl.LazyFrame, token_column: str, checks: list[_Check],
                  written_currency: bool) -> pl.LazyFrame:
        currency_field = self.plan.by_name("currency")
        row_currency = pl.col(_o("currency")) if currency_field is not None else pl.lit(self.plan.fixed_currency,
                                                                                      dtype=pl.String)
        token = pl.col(token_column)
        currency, code, message = row_currency, NULL_TEXT, NULL_TEXT
        if written_currency:
            pair = pl.when(token.is_not_null()).then(
                pl.concat_str([token, pl.lit("\x1f"), row_currency.fill_null("")])).otherwise(NULL_TEXT)
            materialised = frame.with_columns(pair.alias("cur\x00key")).collect()

            def resolve(value: str, _line: int) -> ScalarResult:
                written, _, row = value.partition("\x1f")
                try:
                    return resolve_amount_currency(written, row or None), None, None
                except ValueRejected as rejected:
                    return None, rejected.code.value, rejected.message

            lookup = Lookup("cur\x00key", resolve, [("cur\x00v", pl.String()), ("cur\x00c", pl.String()),
                                                     ("cur\x00m", pl.String())])
            frame, _ = _join(materialised.lazy(), materialised, lookup)
            currency = pl.when(token.is_not_null()).then(pl.col("cur\x00v")).otherwise(row_currency)
            code, message = pl.col("cur\x00c"), pl.col("cur\x00m")
        frame = frame.with_columns(currency.alias(_o("currency")), code.alias("cur\x00c"), message.alias("cur\x00m"))
        missing = pl.col(_o("amount")).is_not_null() & pl.col(_o("currency")).is_null() & pl.col("cur\x00c").is_null()
        if currency_field is not None:
            missing = missing & pl.col("currency\x00c").is_null()
        frame = frame.with_columns(
            pl.when(missing).then(_code(ErrorCode.REQUIRED_MISSING)).otherwise(pl.col("cur\x00c")).alias("cur\x00c"),
            pl.when(missing).then(pl.lit("the row has an amount but no currency (map a currency column or a "
                                         "fixed currency)")).otherwise(pl.col("cur\x00m")).alias("cur\x00m"))
        amount_field = self.plan.by_name("amount") or self.plan.by_name("debit")
        assert amount_field is not None
        label = currency_field.column if currency_field is not None else amount_field.column
        checks.append(_Check(label, pl.col(amount_field.column), pl.col("cur\x00c"), pl.col("cur\x00m")))
        return frame

    def _finish(self, lazy: pl.LazyFrame, checks: list[_Check]) -> NormalisedBatch:
        bad = pl.any_horizontal([check.code.is_not_null() for check in checks]) if checks else pl.lit(False)
        frame = lazy.with_columns(bad.alias("\x00bad")).collect()
        errors: list[RowError] = []
        any_bad = bool(frame["\x00bad"].any())
        if any_bad:
            failing = frame.filter(pl.col("\x00bad")).select(
                pl.col(LINE), *(pl.struct(check.raw.alias("r"), check.code.alias("c"), check.message.alias("m"))
                                .alias(f"\x00check{i}") for i, check in enumerate(checks)))
            for row in failing.iter_rows():
                line = row[0]
                for check, result in zip(checks, row[1:], strict=True):
                    code = result["c"]
                    if code is None or code in COLUMN_LEVEL_CODES:
                        continue
                    raw = result["r"]
                    errors.append(RowError(line=line, column=check.label, raw_value=raw, code=ErrorCode(code),
                                           message=result["m"] or default_message(code, check.label, raw)))
        columns: list[pl.Expr] = [pl.col(LINE)]
        for name, dtype in CANONICAL_DTYPES.items():
            columns.append(pl.col(_o(name)).cast(dtype).alias(name) if _o(name) in frame.columns
                           else pl.lit(None, dtype=dtype).alias(name))
        for planned in self.plan.fields:
            if planned.extra:
                columns.append(pl.col(_o(planned.output)).cast(EXTRA_DTYPES[planned.kind]).alias(planned.output))
        if any_bad:
            frame = frame.filter(~pl.col("\x00bad"))
        return NormalisedBatch(frame=frame.select(columns), errors=errors)
