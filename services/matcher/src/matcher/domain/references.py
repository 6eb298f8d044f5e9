"""Every reference a `reference` comparison finds in a record, and "any left one equals any right one".

A record's references are all matches of the pattern in its source fields (fields in the order the
rule lists them, matches left to right), normalised, de-duplicated and capped at `MAX_REFERENCES`.
The first one is the record's primary reference: the one the engine used before records could have
several, hashed the same way, so single-reference records are compared and blocked exactly as then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from matcher.domain import keys
from matcher.domain.records import Side
from matcher.domain.rule_parts import ReferenceComparison

# Remittance text rarely names more than a handful of invoices; the cap bounds the per-pair cost
# (up to MAX_REFERENCES² hash comparisons for a pair of two multi-reference records) and the slot
# keys blocking builds. Beyond it the first MAX_REFERENCES distinct references, in field and text
# order, are kept and the rest are ignored (ENGINE.md §2.2).
MAX_REFERENCES = 8
DISPLAY_SEPARATOR = ", "
_NO_ROWS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class ExtraCodes:
    """The second and later codes of the records that have several, as 128-bit hashes (two uint64
    halves). Sparse, because nearly every record has one code: memory is per multi-code record."""

    position: np.ndarray  # (rows,) int64: the record's row in a/b/present; -1 if it has one or none
    a: np.ndarray  # (records with several codes, k - 1) uint64; column c is slot c + 1
    b: np.ndarray
    present: np.ndarray  # bool


@dataclass(frozen=True)
class SideCodes:
    """One side's codes: every record's primary code (the comparison's own arrays) and the extras."""

    a: np.ndarray
    b: np.ndarray
    valid: np.ndarray
    extra: ExtraCodes | None

    @property
    def width(self) -> int:
        """Code slots: 1 plus the most extra codes any record has."""
        return 1 + (self.extra.a.shape[1] if self.extra is not None else 0)

    def several(self, rows: np.ndarray) -> np.ndarray:
        if self.extra is None:
            return np.zeros(len(rows), dtype=bool)
        several: np.ndarray = self.extra.position[rows] >= 0
        return several

    def slot(self, index: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hash halves of code `index` of each of `rows`, and whether the row has one."""
        if index == 0:
            return self.a[rows], self.b[rows], self.valid[rows]
        assert self.extra is not None
        position = self.extra.position[rows]
        has = position >= 0
        at, column = np.where(has, position, 0), index - 1
        return self.extra.a[at, column], self.extra.b[at, column], self.extra.present[at, column] & has


@dataclass(frozen=True)
class References:
    """One side's references: the primary per row, the extra ones, and what to display."""

    primary: pl.Series  # Utf8, null where the record has none
    extra: ExtraCodes | None  # None when no record of this side has more than one reference
    display: pl.Series  # the references found, joined by DISPLAY_SEPARATOR
    capped: np.ndarray  # int64 rows with more than MAX_REFERENCES distinct references (the rest ignored)


def extract_references(side: Side, sources: list[str], spec: ReferenceComparison, where: str) -> References:
    texts = [side.column(source, needed_by=where).cast(pl.Utf8) for source in sources]
    first, counts = _first_matches(texts, spec.pattern)
    primary = first.to_frame("reference").select(_normalise(pl.col("reference"), numeric=spec.numeric)).to_series()
    several = np.flatnonzero(counts >= 2)
    if len(several) == 0:
        return References(primary=primary, extra=None, display=primary, capped=_NO_ROWS)
    # Only records with two matches or more are exploded: the common single-match record costs the
    # same regex pass as before (plus a match count when the pattern has a capture group).
    distinct = _distinct_references([text.gather(several) for text in texts], spec)
    distinct = distinct.with_columns(pl.Series("row", several).gather(distinct["row"]))
    capped = np.unique(distinct.filter(pl.col("slot") >= MAX_REFERENCES)["row"].to_numpy()).astype(np.int64)
    distinct = distinct.filter(pl.col("slot") < MAX_REFERENCES)
    # A record whose matches all normalise to the same reference keeps it as its only one.
    primary = primary.scatter(several, _values_at(distinct.filter(pl.col("slot") == 0), several))
    if distinct.height == 0 or int(distinct["slot"].max()) == 0:  # type: ignore[arg-type]
        return References(primary=primary, extra=None, display=primary, capped=capped)
    joined = distinct.group_by("row").agg(pl.col("value").str.join(DISPLAY_SEPARATOR))
    display = primary.clone().scatter(several, _values_at(joined, several))
    return References(primary=primary, extra=_extra_codes(distinct, side.height), display=display, capped=capped)


def _first_matches(texts: list[pl.Series], pattern: str) -> tuple[pl.Series, np.ndarray]:
    """The first match of the first field that has one (its capture group if the pattern has one:
    exactly what a record's single reference always was) and each record's number of matches."""
    has_group = keys.has_capture_group(pattern)
    first: pl.Series | None = None
    counts = np.zeros(len(texts[0]), dtype=np.int64)
    for text in texts:
        if has_group:
            value = keys.extract_series(text, pattern)
            count = text.str.count_matches(pattern)
        else:
            matches = text.str.extract_all(pattern)  # one regex pass gives both
            value, count = matches.list.first(), matches.list.len()
        first = value if first is None else first.fill_null(value)
        counts += count.fill_null(0).to_numpy()
    assert first is not None
    return first, counts


def _distinct_references(texts: list[pl.Series], spec: ReferenceComparison) -> pl.DataFrame:
    """(row, slot, value): each row's distinct normalised references, in order (slot 0 first)."""
    found = _all_matches(texts, spec.pattern)
    normalised = found.with_columns(value=_normalise(pl.col("value"), numeric=spec.numeric)).drop_nulls("value")
    # Sorting by (row, field, position) then keeping the first of each (row, value) preserves text order.
    return (
        normalised.sort("row", "field", "position")
        .unique(["row", "value"], keep="first", maintain_order=True)
        .with_columns(slot=pl.int_range(pl.len(), dtype=pl.UInt32).over("row"))
    )


def _all_matches(texts: list[pl.Series], pattern: str) -> pl.DataFrame:
    """(row, field, position, value) of every match, the pattern's first capture group if it has one."""
    has_group = keys.has_capture_group(pattern)
    parts = []
    for field_index, text in enumerate(texts):
        columns = {"match": text.str.extract_all(pattern)}
        if has_group:
            columns["first"] = keys.extract_series(text, pattern)
        matches = (
            pl.DataFrame(columns)
            .with_row_index("row")
            .with_columns(position=pl.int_ranges(0, pl.col("match").list.len(), dtype=pl.UInt32))
            .explode("match", "position")
            .drop_nulls("match")
        )
        if has_group:
            # The first match's group is read in its context, exactly as a single-reference record's
            # always was; later ones from the match text alone (they are only ever extra chances).
            group = pl.col("match").str.extract(pattern, 1)
            matches = matches.with_columns(match=pl.when(pl.col("position") == 0).then("first").otherwise(group))
        parts.append(matches.select("row", pl.lit(field_index, pl.UInt32).alias("field"), "position",
                                    pl.col("match").alias("value")))  # fmt: skip
    return pl.concat(parts)


def _normalise(value: pl.Expr, *, numeric: bool) -> pl.Expr:
    """Upper-case alphanumerics, or with `numeric` the digits without leading zeros; "" is none."""
    if numeric:
        return value.str.replace_all(r"\D", "").str.replace(r"^0+(\d)", "${1}").replace("", None)
    return value.str.to_uppercase().str.replace_all(r"[^\p{L}\p{N}]", "").replace("", None)


def _values_at(rows_values: pl.DataFrame, rows: np.ndarray) -> pl.Series:
    """`value` of each of `rows` (null where `rows_values` has none)."""
    frame = pl.DataFrame({"row": rows})
    joined = frame.join(rows_values.select(pl.col("row").cast(frame["row"].dtype), "value"), on="row", how="left",
                        maintain_order="left")  # fmt: skip
    return joined["value"].cast(pl.Utf8)


def _extra_codes(distinct: pl.DataFrame, height: int) -> ExtraCodes:
    # Hashed exactly like a single code column (comparators._code_comparison), so any slot compares
    # with the other side's primary codes.
    later = distinct.filter(pl.col("slot") > 0)
    a, b, _ = keys.hash_pair(later.select(pl.col("value").alias("v")))
    rows, columns = later["row"].to_numpy().astype(np.int64), later["slot"].to_numpy().astype(np.int64) - 1
    owners, at = np.unique(rows, return_inverse=True)
    shape = (len(owners), int(columns.max()) + 1)
    out_a, out_b, present = np.zeros(shape, np.uint64), np.zeros(shape, np.uint64), np.zeros(shape, dtype=bool)
    out_a[at, columns], out_b[at, columns], present[at, columns] = a, b, True
    position = np.full(height, -1, dtype=np.int64)
    position[owners] = np.arange(len(owners))
    return ExtraCodes(position, out_a, out_b, present)


def any_shared(left: SideCodes, right: SideCodes, li: np.ndarray, ri: np.ndarray, equal: np.ndarray) -> np.ndarray:
    """`equal` (primary codes equal) widened to "some left code equals some right code".

    Only pairs not already equal with several codes on a side are looked at, so pairs of
    single-reference records cost one mask.
    """
    todo = np.flatnonzero(~equal & (left.several(li) | right.several(ri)))
    if len(todo) == 0:
        return equal
    lrows, rrows = li[todo], ri[todo]
    right_slots = [right.slot(j, rrows) for j in range(right.width)]
    hit = np.zeros(len(todo), dtype=bool)
    for i in range(left.width):
        la, lb, lpresent = left.slot(i, lrows)
        for ra, rb, rpresent in right_slots:
            hit |= (la == ra) & (lb == rb) & lpresent & rpresent
    widened = equal.copy()
    widened[todo] = hit
    return widened
