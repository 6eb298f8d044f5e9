"""Validation and canonical ordering of the two record sets; exact amount and date conversions."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from matcher.domain.errors import InputError
from matcher.domain.keys import normalise_many
from matcher.domain.rule_parts import Normalise

# Int64 holds 18 full decimal digits; beyond that minor units would overflow.
_MAX_MINOR_UNITS = 10**18 - 1
# Optional canonical fields: a side without the column is a side whose values are all null.
CANONICAL_OPTIONAL: dict[str, pl.DataType] = {
    "external_id": pl.Utf8(), "amount": pl.Decimal(38, 2), "currency": pl.Utf8(), "value_date": pl.Date(),
    "booking_date": pl.Date(), "reference": pl.Utf8(), "counterparty": pl.Utf8(), "description": pl.Utf8(),
}  # fmt: skip


@dataclass(frozen=True)
class Side:
    """One side's records sorted by record_id; row i of `frame` is record i everywhere in the engine."""

    name: str  # "left" or "right"
    frame: pl.DataFrame
    # Normalised text columns: a blocking key and a comparison on the same field and spec (the usual
    # case) normalise a million strings once, not once each.
    normalised_columns: dict[str, pl.Series] = field(default_factory=dict, compare=False, repr=False)

    @property
    def height(self) -> int:
        return self.frame.height

    @property
    def ids(self) -> pl.Series:
        return self.frame["record_id"]

    def column(self, name: str, *, needed_by: str) -> pl.Series:
        if name not in self.frame.columns:
            if name in CANONICAL_OPTIONAL:
                return pl.Series(name, [None] * self.height, dtype=CANONICAL_OPTIONAL[name])
            raise InputError(f"{self.name} records have no column {name!r} (needed by {needed_by})")
        return self.frame[name]


def normalised_pair(
    left: Side, right: Side, columns: tuple[str, str], spec: Normalise | None, *, needed_by: str
) -> tuple[pl.Series, pl.Series]:
    """Both sides' normalised column (memoised per side), normalised in parallel when both are new."""
    memo_key = spec.model_dump_json() if spec is not None else "-"
    sides = [(left, columns[0]), (right, columns[1])]
    missing = [(side, name) for side, name in sides if f"{name}|{memo_key}" not in side.normalised_columns]
    if missing:
        done = normalise_many([side.column(name, needed_by=needed_by) for side, name in missing], spec)
        for (side, name), series in zip(missing, done, strict=True):
            side.normalised_columns[f"{name}|{memo_key}"] = series
    return left.normalised_columns[f"{columns[0]}|{memo_key}"], right.normalised_columns[f"{columns[1]}|{memo_key}"]


def prepare_side(frame: pl.DataFrame, name: str) -> Side:
    if "record_id" not in frame.columns:
        raise InputError(f"{name} records have no 'record_id' column")
    ids = frame["record_id"]
    if ids.dtype != pl.Utf8:
        if not (ids.dtype.is_integer() or ids.dtype in (pl.Categorical, pl.Null)):
            raise InputError(f"{name} record_id must be text (got {ids.dtype})")
        frame = frame.with_columns(pl.col("record_id").cast(pl.Utf8))
        ids = frame["record_id"]
    if ids.null_count():
        raise InputError(f"{name} records: {ids.null_count()} record_id value(s) are empty")
    # Sorting by id makes every later step independent of the input row order; once sorted, a
    # duplicate id sits next to its twin (cheaper to find than by hashing a million strings).
    if not ids.is_sorted():
        frame = frame.sort("record_id")
        ids = frame["record_id"]
    if frame.height > 1 and (ids.head(-1) == ids.tail(-1)).any():
        dupes = ids.filter(ids.is_duplicated()).unique().sort().head(3).to_list()
        raise InputError(f"{name} records: record_id is not unique (e.g. {', '.join(map(repr, dupes))})")
    return Side(name=name, frame=frame)


def decimal_scale(series: pl.Series) -> int:
    dtype = series.dtype
    if isinstance(dtype, pl.Decimal):
        return int(dtype.scale or 0)
    if dtype.is_integer() or dtype == pl.Null:
        return 0
    raise InputError(
        f"column {series.name!r} must be an exact Decimal or integer (got {dtype}); floats cannot be compared exactly"
    )


def minor_units(series: pl.Series, scale: int) -> pl.Series:
    """Exact Int64 minor units at `scale` decimals (a Decimal(38, 2) 12.34 at scale 3 -> 12340)."""
    own = decimal_scale(series)
    if own > scale:
        raise InputError(f"column {series.name!r} has more decimals ({own}) than the common scale {scale}")
    if isinstance(series.dtype, pl.Decimal):
        limit = _MAX_MINOR_UNITS // 10**own
        too_big = series.abs() > limit
        if too_big.any():
            raise InputError(f"column {series.name!r} has amounts too large for 18 significant digits")
        units = (series * 10**own).cast(pl.Int64) if own else series.cast(pl.Int64)
    else:
        units = series.cast(pl.Int64)
    if scale > own:
        factor = 10 ** (scale - own)
        biggest = units.drop_nulls().abs().max()
        if biggest is not None and int(biggest) > _MAX_MINOR_UNITS // factor:  # type: ignore[arg-type]
            raise InputError(f"column {series.name!r} has amounts too large for 18 significant digits")
        units = units * factor
    return units.alias(series.name)


def common_scale(left: pl.Series, right: pl.Series) -> int:
    return max(decimal_scale(left), decimal_scale(right))


def day_numbers(series: pl.Series) -> pl.Series:
    """Days since 1970-01-01 (Int32) for a Date column; Datetime is truncated to its date."""
    dtype = series.dtype
    if dtype == pl.Date:
        return series.to_physical()
    if isinstance(dtype, pl.Datetime):
        return series.dt.date().to_physical()
    if dtype == pl.Null:
        return series.cast(pl.Int32)
    raise InputError(f"column {series.name!r} must be a Date (got {dtype})")
