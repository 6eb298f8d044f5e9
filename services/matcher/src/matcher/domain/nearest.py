"""Nearest candidates for records that no pass could score: the "why not matched" search.

Records with a filter-passing candidate in some pass already know their nearest one. For the rest,
each one-to-one pass looks up, inside the record's exact block (explicit blocking keys only), the
other-side record nearest in amount (or date) with an as-of join; the pair is then evaluated so the
explanation can name the comparison that failed and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from matcher.domain.comparators import Prepared, evaluate, prepare_pass
from matcher.domain.passes import EngineContext, block_keys
from matcher.domain.rules import Pass, RuleSet
from matcher.domain.scoring import exact_scores


@dataclass(frozen=True)
class Fallback:
    pass_index: np.ndarray  # -1 when nothing was found
    other: np.ndarray  # row on the other side, -1 when nothing was found
    score: np.ndarray  # the pair's pass score, ignoring filters (NaN when nothing was found)
    failed: np.ndarray  # filters the pair fails (group-total tolerances of grouped passes not counted)


def search(ctx: EngineContext, rules: RuleSet, side: str, rows: np.ndarray) -> Fallback:
    pass_index = np.full(len(rows), -1, dtype=np.int64)
    other = np.full(len(rows), -1, dtype=np.int64)
    failures = np.full(len(rows), np.iinfo(np.int64).max, dtype=np.int64)
    best_score = np.full(len(rows), -np.inf)
    if len(rows) == 0:
        return Fallback(pass_index, other, np.full(0, np.nan), np.zeros(0, dtype=np.int64))
    eligible = [i for i, p in enumerate(rules.passes) if p.cardinality == "one_to_one"]
    for index in eligible or range(len(rules.passes)):
        pass_ = rules.passes[index]
        comps = prepare_pass(pass_, ctx.left, ctx.right, ctx.comparison_cache)
        found = _nearest_in_pass(ctx, pass_, comps, side, rows)
        has = found >= 0
        li = np.where(side == "left", rows, found)[has]
        ri = np.where(side == "left", found, rows)[has]
        failed, score = _failures_and_score(ctx, comps, li, ri, grouped=pass_.cardinality != "one_to_one")
        positions = np.flatnonzero(has)
        # Fewest failed filters, then the highest score; on a full tie the later (usually looser)
        # pass gives the more telling "off by ..., tolerance ..." message.
        better = (failed < failures[positions]) | ((failed == failures[positions]) & (score >= best_score[positions]))
        chosen = positions[better]
        failures[chosen], best_score[chosen] = failed[better], score[better]
        pass_index[chosen] = index
        other[chosen] = found[has][better]
    failed = np.where(other >= 0, failures, 0)
    return Fallback(pass_index, other, np.where(other >= 0, best_score, np.nan), failed)


def _failures_and_score(
    ctx: EngineContext, comps: list[Prepared], li: np.ndarray, ri: np.ndarray, *, grouped: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Failed filters and pass score of each pair. A grouped pass tests amounts on the group's total: one
    member against the single record says nothing, so there only member-level filters count as failures."""
    failed = np.zeros(len(li), dtype=np.int64)
    for comp in comps:
        if comp.is_filter and not (grouped and comp.kind == "numeric"):
            failed += ~evaluate(comp, li, ri, workers=ctx.workers).passed
    return failed, exact_scores(comps, li, ri, workers=ctx.workers)


def _nearest_in_pass(ctx: EngineContext, pass_: Pass, comps: list[Prepared], side: str, rows: np.ndarray) -> np.ndarray:
    keys = block_keys(ctx, pass_, [])  # explicit keys only: the filters may be what fails
    if side == "left":
        own_key, own_valid, other_key, other_valid = keys.left_a, keys.left_valid, keys.right_a, keys.right_valid
    else:
        own_key, own_valid, other_key, other_valid = keys.right_a, keys.right_valid, keys.left_a, keys.left_valid
    found = np.full(len(rows), -1, dtype=np.int64)
    own_rows = np.flatnonzero(own_valid[rows])
    own = pl.DataFrame({"pos": own_rows, "key": own_key[rows[own_rows]]})
    other_rows = np.flatnonzero(other_valid)
    # Only blocks that hold an unmatched record matter; usually a small share of the other side.
    # (A filter, unlike a semi join, keeps row order: the sorts below rely on it.)
    candidates = pl.DataFrame({"other": other_rows, "key": other_key[other_rows]}).filter(
        pl.col("key").is_in(own["key"].unique().implode())
    )
    sort_comp = next((c for c in comps if c.kind == "numeric"), None) or next(
        (c for c in comps if c.kind == "date"), None
    )
    if sort_comp is None:
        firsts = candidates.group_by("key").agg(pl.col("other").min())
        joined = own.join(firsts, on="key", how="left")
    else:
        own_values, own_ok = (
            (sort_comp.left, sort_comp.left_valid) if side == "left" else (sort_comp.right, sort_comp.right_valid)
        )
        other_values, other_ok = (
            (sort_comp.right, sort_comp.right_valid) if side == "left" else (sort_comp.left, sort_comp.left_valid)
        )
        own_source = rows[own["pos"].to_numpy()]
        own = own.with_columns(value=pl.lit(own_values[own_source])).filter(pl.lit(own_ok[own_source]))
        joined = own.sort("value", maintain_order=True).join_asof(
            _first_per_key_and_value(candidates, other_values, other_ok),
            on="value",
            by="key",
            strategy="nearest",
            check_sortedness=False,
        )
    joined = joined.filter(pl.col("other").is_not_null())
    found[joined["pos"].to_numpy()] = joined["other"].to_numpy()
    return found


def _first_per_key_and_value(candidates: pl.DataFrame, values: np.ndarray, valid: np.ndarray) -> pl.DataFrame:
    """The smallest row per (key, value) among `candidates` (rows in ascending order) with a valid value,
    sorted by (key, value).

    A stable two-key sort and a look at each row's predecessor: in a fuzzy pass the candidates are the
    whole other side, and Polars' sort + hash-unique of a million rows peaked ~150 MB higher."""
    rows = candidates["other"].to_numpy()
    keep = valid[rows]
    rows, keys = rows[keep], candidates["key"].to_numpy()[keep]
    row_values = values[rows]
    order = np.lexsort((row_values, keys))  # stable: equal (key, value) stay in row order
    rows, keys, row_values = rows[order], keys[order], row_values[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (keys[1:] != keys[:-1]) | (row_values[1:] != row_values[:-1])
    return pl.DataFrame({"other": rows[first], "key": keys[first], "value": row_values[first]})
