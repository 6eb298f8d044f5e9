"""Running one pass: blocking plan, candidate scoring and one-to-one assignment."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from matcher.domain import keys
from matcher.domain.assignment import assign_one_to_one
from matcher.domain.blocking import (
    DENSE_MIN_PAIRS_FUZZY,
    DENSE_MIN_PAIRS_PLAIN,
    BlockingPlan,
    BlockKeys,
    Candidates,
    SlotKeys,
    generate,
)
from matcher.domain.comparators import Prepared, located, score_cutoffs
from matcher.domain.ranges import range_keys
from matcher.domain.reblocking import WordSource
from matcher.domain.records import Side, common_scale, minor_units, normalised_pair
from matcher.domain.rule_parts import KeyExpr
from matcher.domain.rules import Pass
from matcher.domain.scoring import Scored, best_per_row, score_block, score_pairs_threaded
from matcher.domain.stats import PassStats

StageReport = Callable[[float, str], None]


def silent_stage(share: float, message: str) -> None:
    return None


@dataclass
class EngineContext:
    left: Side
    right: Side
    workers: int
    comparison_cache: dict[str, Prepared] = field(default_factory=dict)
    key_cache: dict[str, tuple[pl.Series, pl.Series]] = field(default_factory=dict)
    block_key_cache: dict[str, BlockKeys] = field(default_factory=dict)


@dataclass
class PassMatches:
    """Matches of one pass. Members point at their match by index (`*_match`)."""

    pass_index: int
    kind: str
    score: np.ndarray
    auto: np.ndarray  # bool
    ambiguous: np.ndarray  # bool
    runner_up_left: np.ndarray  # row or -1
    runner_up_right: np.ndarray
    runner_up_score: np.ndarray
    left_rows: np.ndarray
    left_match: np.ndarray
    right_rows: np.ndarray
    right_match: np.ndarray

    @property
    def count(self) -> int:
        return len(self.score)


@dataclass
class Nearest:
    """Best filter-passing candidate of each row in one pass (-1 / NaN when none)."""

    left_other: np.ndarray
    left_score: np.ndarray
    right_other: np.ndarray
    right_score: np.ndarray


def blocking_plan(ctx: EngineContext, pass_: Pass, comps: list[Prepared], *, exclude_sums: bool) -> BlockingPlan:
    fuzzy = [c for c in comps if c.kind == "fuzzy"]
    return BlockingPlan(
        keys=block_keys(ctx, pass_, comps),
        range_keys=range_keys(comps, exclude_sums=exclude_sums),
        dense_min_pairs=DENSE_MIN_PAIRS_FUZZY if fuzzy else DENSE_MIN_PAIRS_PLAIN,
        max_block_pairs=pass_.max_block_pairs,
        word_sources=[
            WordSource(c.left_text, c.right_text) for c in fuzzy if c.left_text is not None and c.right_text is not None
        ],
        hot_candidates=pass_.hot_candidates,
        split_order=[
            (c.left, c.right) for c in sorted(comps, key=lambda c: c.kind != "numeric") if c.kind in ("numeric", "date")
        ],
    )


def block_keys(ctx: EngineContext, pass_: Pass, comps: list[Prepared]) -> BlockKeys:
    """The exact block key of every row, from the pass's keys and its filter-mode equalities (cached)."""
    equalities = [i for i, c in enumerate(comps) if c.kind == "code" and c.is_filter and not c.ignores_missing]
    cache_key = "|".join([k.model_dump_json() for k in pass_.blocking] + [comps[i].name for i in equalities])
    cache_key += "|" + "|".join(comps[i].spec.model_dump_json() for i in equalities)
    if cache_key not in ctx.block_key_cache:
        ctx.block_key_cache[cache_key] = _block_keys(ctx, pass_, comps, equalities)
    return ctx.block_key_cache[cache_key]


def _block_keys(ctx: EngineContext, pass_: Pass, comps: list[Prepared], equalities: list[int]) -> BlockKeys:
    left_keys, right_keys = [], []
    for index, key in enumerate(pass_.blocking):
        lk, rk = key_pair(ctx, key, f"passes[{pass_.name}].blocking[{index}]")
        left_keys.append(lk.alias(f"k{index}"))
        right_keys.append(rk.alias(f"k{index}"))
    # A filter-mode equality is a blocking key for free: pairs that differ would fail it anyway.
    # One whose records may hold several codes blocks on each of them (slot keys); a second such
    # filter in the pass is not a key at all (it still filters), so no shared code is ever missed.
    several = [i for i in equalities if comps[i].several_codes]
    for index in equalities:
        comp = comps[index]
        if index in several[1:]:
            continue
        assert comp.left_alt is not None
        assert comp.right_alt is not None
        left_keys.extend(_code_columns(comp.left, comp.left_alt, comp.left_valid, f"c{index}"))
        right_keys.extend(_code_columns(comp.right, comp.right_alt, comp.right_valid, f"c{index}"))
    block_keys_ = _hash_keys(ctx, left_keys, right_keys)
    if not several:
        return block_keys_
    # The slot keys stand for the exploded filter's own columns, so they mix into every other key.
    own = {f"c{several[0]}a", f"c{several[0]}b"}
    base = _hash_keys(ctx, [k for k in left_keys if k.name not in own], [k for k in right_keys if k.name not in own])
    return replace(block_keys_, slots=_slot_keys(base, comps[several[0]]))


def _slot_keys(base: BlockKeys, comp: Prepared) -> SlotKeys:
    """The exploded filter's code slots, each to be mixed into the pass's other keys (`base`)."""
    left, right = comp.code_sets()
    return SlotKeys(
        base.left_a, base.left_b, base.left_valid, left, base.right_a, base.right_b, base.right_valid, right
    )


def key_pair(ctx: EngineContext, key: KeyExpr, where: str) -> tuple[pl.Series, pl.Series]:
    cache_key = key.model_dump_json()
    if cache_key not in ctx.key_cache:
        ctx.key_cache[cache_key] = located(where, _key_pair, ctx, key, where)
    return ctx.key_cache[cache_key]


def _key_pair(ctx: EngineContext, key: KeyExpr, where: str) -> tuple[pl.Series, pl.Series]:
    lcol = ctx.left.column(str(key.left_column), needed_by=where)
    rcol = ctx.right.column(str(key.right_column), needed_by=where)
    if key.normalise is not None and key.round is None and key.bucket_days is None and key.extract is None:
        # Normalisation comes first for such a key: share it with comparisons on the same field.
        columns = (str(key.left_column), str(key.right_column))
        lcol, rcol = normalised_pair(ctx.left, ctx.right, columns, key.normalise, needed_by=where)
        key = key.model_copy(update={"normalise": None})
    scale = common_scale(lcol, rcol) if key.round is not None else None
    lk = keys.key_series(lcol, key, amount_scale=scale)
    rk = keys.key_series(rcol, key, amount_scale=scale)
    if key.round is None and (isinstance(lk.dtype, pl.Decimal) or isinstance(rk.dtype, pl.Decimal)):
        scale = common_scale(lcol, rcol)
        lk, rk = minor_units(lk, scale), minor_units(rk, scale)
    return keys.align_key_dtypes(lk, rk)


def _code_columns(a: np.ndarray, b: np.ndarray, valid: np.ndarray, name: str) -> list[pl.Series]:
    frame = pl.DataFrame({"a": a, "b": b, "valid": valid})
    first = frame.select(pl.when(pl.col("valid")).then(pl.col("a"))).to_series().alias(f"{name}a")
    return [first, frame["b"].alias(f"{name}b")]


def _hash_keys(ctx: EngineContext, left_keys: list[pl.Series], right_keys: list[pl.Series]) -> BlockKeys:
    if not left_keys:
        lz, rz = np.zeros(ctx.left.height, np.uint64), np.zeros(ctx.right.height, np.uint64)
        return BlockKeys(lz, lz, np.ones(ctx.left.height, bool), rz, rz, np.ones(ctx.right.height, bool))
    la, lb, lvalid = keys.hash_pair(pl.DataFrame(left_keys))
    ra, rb, rvalid = keys.hash_pair(pl.DataFrame(right_keys))
    return BlockKeys(la, lb, lvalid, ra, rb, rvalid)


def score_candidates(
    ctx: EngineContext, comps: list[Prepared], cands: Candidates, cutoffs: list[float], floor: float | None = None
) -> Scored:
    li, ri = cands.pairs()
    parts = [score_pairs_threaded(comps, li, ri, cutoffs=cutoffs, workers=ctx.workers, floor=floor)]
    for lrows, rrows in cands.dense_blocks + cands.split_blocks:
        parts.append(score_block(comps, lrows, rrows, cutoffs=cutoffs, workers=ctx.workers, floor=floor))
    return Scored.concat(parts)


def run_one_to_one(
    ctx: EngineContext, pass_index: int, pass_: Pass, comps: list[Prepared],
    left_free: np.ndarray, right_free: np.ndarray, stats: PassStats,
    on_scored: Callable[[Scored], None] | None = None, on_stage: StageReport | None = None,
) -> tuple[PassMatches, Nearest]:  # fmt: skip
    """`on_scored` sees the filter-passing pairs before assignment starts; `on_stage` hears of each
    stage as it starts (the share of the pass done, a message)."""
    stage = on_stage or silent_stage
    clock = time.perf_counter()
    plan = blocking_plan(ctx, pass_, comps, exclude_sums=False)
    cands = generate(plan, np.flatnonzero(left_free), np.flatnonzero(right_free))
    record_blocking(stats, cands)
    stats.seconds["blocking"] = round(time.perf_counter() - clock, 4)
    stage(1 / 3, f"scoring {cands.pair_count:,} candidate pairs")

    clock = time.perf_counter()
    scored = score_candidates(
        ctx, comps, cands, score_cutoffs(comps, pass_.review_threshold), floor=pass_.review_threshold
    )
    stats.candidates_passing_filters = len(scored)
    edges = scored.take(scored.score >= pass_.review_threshold - 1e-12)
    stats.candidates_above_review = len(edges)
    stats.seconds["scoring"] = round(time.perf_counter() - clock, 4)
    if on_scored is not None:
        on_scored(scored)
    stage(2 / 3, f"assigning {len(edges):,} scored pairs")

    clock = time.perf_counter()
    result = assign_one_to_one(edges, margin=pass_.ambiguity_margin, may_repeat=bool(cands.split_blocks))
    stats.components_solved = result.components_solved
    stats.largest_component = result.largest_component
    auto = (result.score >= pass_.auto_match_threshold - 1e-12) & ~result.ambiguous
    index = np.arange(len(result.left))
    matches = PassMatches(
        pass_index=pass_index, kind="one_to_one", score=result.score, auto=auto, ambiguous=result.ambiguous,
        runner_up_left=result.runner_up_left, runner_up_right=result.runner_up_right,
        runner_up_score=result.runner_up_score,
        left_rows=result.left, left_match=index, right_rows=result.right, right_match=index,
    )  # fmt: skip
    nearest = _nearest_of_unmatched(ctx, scored, result.left, result.right, left_free, right_free)
    stats.seconds["assignment"] = round(time.perf_counter() - clock, 4)
    return matches, nearest


def _nearest_of_unmatched(
    ctx: EngineContext, scored: Scored, matched_left: np.ndarray, matched_right: np.ndarray,
    left_free: np.ndarray, right_free: np.ndarray,
) -> Nearest:  # fmt: skip
    """Best candidate of each record this pass leaves unmatched (only those get explained)."""
    left_open, right_open = left_free.copy(), right_free.copy()
    left_open[matched_left], right_open[matched_right] = False, False
    lk, rk = left_open[scored.left], right_open[scored.right]
    return Nearest(
        *best_per_row(scored.left[lk], scored.right[lk], scored.score[lk], ctx.left.height),
        *best_per_row(scored.right[rk], scored.left[rk], scored.score[rk], ctx.right.height),
    )


def record_blocking(stats: PassStats, cands: Candidates) -> None:
    stats.blocks = cands.blocks
    stats.dense_blocks = len(cands.dense_blocks)
    stats.oversized_blocks_split = cands.oversized_blocks_split
    stats.largest_block_pairs = cands.largest_block_pairs
    stats.candidates = cands.pair_count
    stats.hot_left_records = cands.hot_left_records
    stats.hot_right_records = cands.hot_right_records


def sum_comparison_index(pass_: Pass) -> int:
    target = pass_.sum_comparison
    for index, comparison in enumerate(pass_.comparisons):
        if comparison is target:
            return index
    raise ValueError("pass has no sum comparison")  # guarded by Pass validation
