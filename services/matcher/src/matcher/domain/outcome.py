"""The engine's output tables (schemas in ENGINE.md §1.2): matches, and unmatched records with the
reason they stayed unmatched and their nearest candidate. Explanations are rendered on demand
(explain.py), so a million-match job does not build a million JSON documents it may never show."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np
import polars as pl

from matcher.domain import nearest
from matcher.domain.comparators import prepare_pass
from matcher.domain.passes import EngineContext, Nearest, PassMatches
from matcher.domain.rules import RuleSet
from matcher.domain.scoring import Scored, exact_scores

MATCHED_SCHEMA: dict[str, pl.DataType] = {
    "match_id": pl.Utf8(), "pass_index": pl.Int32(), "pass_name": pl.Utf8(), "kind": pl.Utf8(),
    "left_ids": pl.List(pl.Utf8), "right_ids": pl.List(pl.Utf8), "score": pl.Float64(),
    "status": pl.Utf8(), "reason": pl.Utf8(),
}  # fmt: skip
UNMATCHED_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.Utf8(), "reason": pl.Utf8(), "nearest_id": pl.Utf8(), "nearest_pass": pl.Utf8(),
    "nearest_score": pl.Float64(),
}  # fmt: skip


@dataclass(frozen=True)
class Unmatched:
    """One side's unmatched rows (sorted by record_id) and their nearest candidate."""

    rows: np.ndarray
    reason: np.ndarray  # object array of reason codes
    other: np.ndarray  # nearest row on the other side, -1 if none
    pass_index: np.ndarray  # pass that produced the nearest candidate, -1 if none
    score: np.ndarray  # its pass score (NaN if none)


def build_matched(ctx: EngineContext, rules: RuleSet, all_matches: list[PassMatches]) -> pl.DataFrame:
    frames = [_pass_frame(ctx, rules, m) for m in all_matches if m.count]
    if not frames:
        return pl.DataFrame(schema=MATCHED_SCHEMA)
    # Ordered by (pass_index, match_id): passes come in order, and a one-to-one pass's matches are
    # already in left-row (= record_id) order, so usually there is nothing to sort.
    return pl.concat([f if f["match_id"].is_sorted() else f.sort("match_id") for f in frames])


def _pass_frame(ctx: EngineContext, rules: RuleSet, matches: PassMatches) -> pl.DataFrame:
    left_ids = ids_per_match(ctx.left.ids, matches.left_rows, matches.left_match, matches.count)
    right_ids = ids_per_match(ctx.right.ids, matches.right_rows, matches.right_match, matches.count)
    return pl.DataFrame({
        "pass_index": pl.Series(np.full(matches.count, matches.pass_index), dtype=pl.Int32),
        "left_ids": left_ids, "right_ids": right_ids,
        "score": matches.score.astype(np.float64), "auto": matches.auto, "ambiguous": matches.ambiguous,
    }).select(
        (pl.lit(f"{matches.pass_index}:") + pl.col("left_ids").list.first()).alias("match_id"),
        "pass_index",
        pl.lit(rules.passes[matches.pass_index].name).alias("pass_name"),
        pl.lit(matches.kind).alias("kind"),
        "left_ids", "right_ids", "score",
        pl.when(pl.col("auto")).then(pl.lit("auto")).otherwise(pl.lit("review")).alias("status"),
        pl.when(pl.col("ambiguous")).then(pl.lit("ambiguous"))
        .when(~pl.col("auto")).then(pl.lit("below_auto_threshold")).alias("reason"),
    )  # fmt: skip


def ids_per_match(ids: pl.Series, rows: np.ndarray, match: np.ndarray, count: int) -> pl.Series:
    """Sorted record ids of each match, as a List column indexed by match number."""
    if len(rows) == count and (match == np.arange(count)).all():
        return pl.select(pl.lit(ids.gather(rows)).reshape((-1, 1)).arr.to_list()).to_series()
    grouped = pl.DataFrame({"m": match, "id": ids.gather(rows)}).group_by("m").agg(pl.col("id").sort()).sort("m")
    return grouped["id"]


@dataclass(frozen=True)
class EarlySearch:
    """The nearest-candidate searches `build_unmatched` will need, started before the last pass assigns."""

    rows: dict[str, np.ndarray]
    found: dict[str, Future[nearest.Fallback]]


def start_nearest_search(
    ctx: EngineContext, rules: RuleSet, background: Executor, earlier: list[Nearest],
    left_free: np.ndarray, right_free: np.ndarray, last_pass_pairs: Scored,
) -> EarlySearch:  # fmt: skip
    """Search, on `background`, the records that no pass can give a candidate: open before the last
    (one-to-one) pass, without a candidate in an earlier pass, and in none of the last pass's
    filter-passing pairs (so it cannot match them either). These are exactly the records that
    `build_unmatched` searches. The search (NumPy sorts, Polars joins: mostly outside the GIL) then
    overlaps the last pass's assignment (SciPy's solver, which holds the GIL)."""
    rows: dict[str, np.ndarray] = {}
    for side, free, paired in (("left", left_free, last_pass_pairs.left), ("right", right_free, last_pass_pairs.right)):
        searched = free.copy()
        for near in earlier:
            searched &= (near.left_other if side == "left" else near.right_other) < 0
        searched[paired] = False
        rows[side] = np.flatnonzero(searched)
    return EarlySearch(rows, {side: background.submit(nearest.search, ctx, rules, side, r) for side, r in rows.items()})


def build_unmatched(
    ctx: EngineContext, rules: RuleSet, all_nearest: list[Nearest], left_free: np.ndarray, right_free: np.ndarray,
    early: EarlySearch | None = None,
) -> tuple[Unmatched, Unmatched]:  # fmt: skip
    left = _unmatched_side(ctx, rules, "left", np.flatnonzero(left_free), right_free, all_nearest, early)
    right = _unmatched_side(ctx, rules, "right", np.flatnonzero(right_free), left_free, all_nearest, early)
    return left, right


def _unmatched_side(
    ctx: EngineContext, rules: RuleSet, side: str, rows: np.ndarray, other_free: np.ndarray,
    all_nearest: list[Nearest], early: EarlySearch | None,
) -> Unmatched:  # fmt: skip
    best_other = np.full(len(rows), -1, dtype=np.int64)
    best_score = np.full(len(rows), np.nan)
    best_pass = np.full(len(rows), -1, dtype=np.int64)
    for index, near in enumerate(all_nearest):
        other = (near.left_other if side == "left" else near.right_other)[rows]
        score = (near.left_score if side == "left" else near.right_score)[rows]
        better = (other >= 0) & ((best_other < 0) | (score > best_score))
        best_other[better], best_score[better], best_pass[better] = other[better], score[better], index
    review = np.array([p.review_threshold for p in rules.passes])
    below_review = (best_other >= 0) & (best_score < review[best_pass])
    reason = np.where(below_review, "below_review_threshold", "taken").astype(object)
    # The passes cut a fuzzy similarity to 0 once the pair cannot reach the review threshold
    # (comparators.score_cutoffs), so such a pair's score can be lower than the contributions its
    # explanation shows. Only pairs below the threshold can have been cut; the reason stays the
    # pass's verdict (ENGINE.md §1.2).
    best_score[below_review] = _exact_scores(
        ctx, rules, side, rows[below_review], best_other[below_review], best_pass[below_review]
    )
    missing = best_other < 0
    if early is not None and np.array_equal(early.rows[side], rows[missing]):
        found = early.found[side].result()
    else:
        found = nearest.search(ctx, rules, side, rows[missing])
    best_other[missing], best_pass[missing], best_score[missing] = found.other, found.pass_index, found.score
    # A nearest record that fails no filter and was never a candidate: a grouped pass found no group
    # of the allowed size reaching the amount; or the record went to another match first; or blocking
    # never compared the two (hot records re-blocked by words, an oversized block's windows).
    grouped = np.array([p.cardinality != "one_to_one" for p in rules.passes])
    reason[missing] = np.select(
        [
            found.other < 0,
            found.failed > 0,
            grouped[np.maximum(found.pass_index, 0)],
            ~other_free[np.maximum(found.other, 0)],
        ],
        ["no_candidate", "filter_failed", "no_group", "taken"],
        default="not_compared",
    ).astype(object)
    return Unmatched(rows=rows, reason=reason, other=best_other, pass_index=best_pass, score=best_score)


def _exact_scores(
    ctx: EngineContext, rules: RuleSet, side: str, rows: np.ndarray, other: np.ndarray, pass_index: np.ndarray
) -> np.ndarray:
    """Exact pass score of each (row, other) pair under its pass (ENGINE.md §2.3), one batch per pass."""
    score = np.full(len(rows), np.nan)
    for index in np.unique(pass_index).tolist():
        at = np.flatnonzero(pass_index == index)
        comps = prepare_pass(rules.passes[index], ctx.left, ctx.right, ctx.comparison_cache)
        li, ri = (rows[at], other[at]) if side == "left" else (other[at], rows[at])
        score[at] = exact_scores(comps, li, ri, workers=ctx.workers)
    return score


def unmatched_frame(ctx: EngineContext, rules: RuleSet, side: str, info: Unmatched) -> pl.DataFrame:
    if len(info.rows) == 0:
        return pl.DataFrame(schema=UNMATCHED_SCHEMA)
    own_ids = (ctx.left if side == "left" else ctx.right).ids
    other_ids = (ctx.right if side == "left" else ctx.left).ids
    names = pl.Series([p.name for p in rules.passes], dtype=pl.Utf8)
    found = info.other >= 0
    return pl.DataFrame({
        "record_id": own_ids.gather(info.rows),
        "reason": pl.Series(info.reason.astype(str), dtype=pl.Utf8),
        "nearest_id": _where_found(found, other_ids, info.other),
        "nearest_pass": _where_found(found, names, info.pass_index),
        "nearest_score": pl.Series(info.score, nan_to_null=True, dtype=pl.Float64),
    })  # fmt: skip


def _where_found(found: np.ndarray, values: pl.Series, index: np.ndarray) -> pl.Series:
    if values.len() == 0:
        return pl.Series([None] * len(found), dtype=pl.Utf8)
    gathered = values.gather(np.where(found, index, 0))
    return pl.select(pl.when(pl.lit(found)).then(pl.lit(gathered))).to_series()
