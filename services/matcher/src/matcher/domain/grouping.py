"""One-to-many and many-to-one passes: a group on the "many" side sums to one "single" record.

Numeric-tolerance comparisons apply to the group's sum; every other comparison applies member by
member (a member must pass every filter; its similarities average into the group's score):

    score = (W_member · mean(member scores) + Σ w_sum · s_sum) / (W_member + W_sum)

Groups come from a key (`group.by`, assigned optimally like 1:1) or from a bounded subset-sum search
(`group.max_size`) over each single record's best candidates, deterministic and exclusive.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import polars as pl

from matcher.domain import keys
from matcher.domain.assignment import assign_one_to_one
from matcher.domain.blocking import generate
from matcher.domain.closest_group import GroupPool, pool_from_lists, pool_of_groups
from matcher.domain.comparators import Prepared, score_cutoffs
from matcher.domain.comparators import _numeric as numeric_test
from matcher.domain.details import comparison_frame, format_minor
from matcher.domain.passes import (
    EngineContext,
    Nearest,
    PassMatches,
    StageReport,
    blocking_plan,
    key_pair,
    record_blocking,
    score_candidates,
    silent_stage,
)
from matcher.domain.rules import GroupSpec, Pass
from matcher.domain.scoring import Scored, best_per_row
from matcher.domain.stats import PassStats
from matcher.domain.subset_search import Best, SubsetProblem, search


class _Orientation:
    """Which side is single and which is many, with per-side arrays picked accordingly."""

    def __init__(self, pass_: Pass, ctx: EngineContext) -> None:
        self.single_is_left = pass_.cardinality == "one_to_many"
        self.single_height = ctx.left.height if self.single_is_left else ctx.right.height
        self.many_height = ctx.right.height if self.single_is_left else ctx.left.height

    def split(self, scored: Scored) -> tuple[np.ndarray, np.ndarray]:
        """(single rows, member rows) of left/right pairs."""
        return (scored.left, scored.right) if self.single_is_left else (scored.right, scored.left)

    def amounts(self, comp: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self.single_is_left:
            return comp.left, comp.left_valid, comp.right, comp.right_valid
        return comp.right, comp.right_valid, comp.left, comp.left_valid

    def sum_test(self, comp: Prepared, single: np.ndarray, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        left, right = (single, sums) if self.single_is_left else (sums, single)
        similarity, passed = numeric_test(comp, left, right)
        return similarity.astype(np.float64), passed


def run_grouped(
    ctx: EngineContext, pass_index: int, pass_: Pass, comps: list[Prepared],
    left_free: np.ndarray, right_free: np.ndarray, stats: PassStats, on_stage: StageReport | None = None,
) -> tuple[PassMatches, Nearest, GroupPool]:  # fmt: skip
    """The pass's matches, no nearest candidates (see below) and, for explanations, what it could still
    offer each single record it left unmatched (closest_group.py)."""
    stage = on_stage or silent_stage
    clock = time.perf_counter()
    side = _Orientation(pass_, ctx)
    member_comps = [c for c in comps if c.kind != "numeric"]
    sum_comps = [c for c in comps if c.kind == "numeric"]
    plan = blocking_plan(ctx, pass_, member_comps, exclude_sums=True)
    cands = generate(plan, np.flatnonzero(left_free), np.flatnonzero(right_free))
    record_blocking(stats, cands)
    stats.seconds["blocking"] = round(time.perf_counter() - clock, 4)
    stage(1 / 3, f"scoring {cands.pair_count:,} candidate members")

    clock = time.perf_counter()
    bounds = score_cutoffs(member_comps, 0.0)
    cutoffs = [c if comp.is_filter else 0.0 for c, comp in zip(bounds, member_comps, strict=True)]
    member_pairs = score_candidates(ctx, member_comps, cands, cutoffs)
    _, single_ok, _, member_ok = side.amounts(sum_comps[0])
    singles, members = side.split(member_pairs)
    usable = single_ok[singles] & member_ok[members]
    member_pairs = member_pairs.take(usable)
    stats.candidates_passing_filters = len(member_pairs)
    # A member-level candidate is not a possible match on its own (the sum decides), so grouped
    # passes leave "nearest candidate" explanations to the one-to-one passes.
    nearest = Nearest(*best_per_row(*(np.zeros(0, np.int64),) * 2, np.zeros(0), ctx.left.height),
                      *best_per_row(*(np.zeros(0, np.int64),) * 2, np.zeros(0), ctx.right.height))  # fmt: skip
    stats.seconds["scoring"] = round(time.perf_counter() - clock, 4)
    stage(2 / 3, f"forming groups from {len(member_pairs):,} member pairs")

    clock = time.perf_counter()
    weights = _Weights(member_comps, sum_comps)
    assert pass_.group is not None
    if pass_.group.by:
        found, pool = _groups_by_key(
            ctx, pass_index, pass_, side, member_pairs, sum_comps, weights, left_free, right_free
        )
    else:
        found, pool = _groups_by_search(pass_index, pass_, side, member_pairs, sum_comps, weights, stats)
    stats.seconds["assignment"] = round(time.perf_counter() - clock, 4)
    return _as_matches(pass_index, pass_, side, found), nearest, pool


class _Weights:
    def __init__(self, member_comps: list[Prepared], sum_comps: list[Prepared]) -> None:
        self.member = sum(c.spec.weight for c in member_comps if not c.is_filter)
        self.sums = [c.spec.weight if not c.is_filter else 0.0 for c in sum_comps]
        self.total = self.member + sum(self.sums)

    def score(self, member_mean: np.ndarray, sum_similarities: list[np.ndarray]) -> np.ndarray:
        if self.total == 0:
            return np.ones(len(member_mean))
        numerator = self.member * member_mean
        for weight, similarity in zip(self.sums, sum_similarities, strict=True):
            numerator = numerator + weight * similarity
        return np.round(numerator / self.total, 6)


# A record whose answer went stale is searched again with the stale records among this many next ones.
_LOOKAHEAD = 1024


class _Found:
    def __init__(self) -> None:
        self.single: list[int] = []
        self.members: list[np.ndarray] = []
        self.score: list[float] = []
        self.ambiguous: list[bool] = []
        self.runner_up_score: list[float] = []


def _sum_checks(
    side: _Orientation, sum_comps: list[Prepared], single_values: np.ndarray, sums: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    passed = np.ones(len(sums), dtype=bool)
    similarities = []
    for comp in sum_comps:
        similarity, ok = side.sum_test(comp, single_values, sums)
        if comp.is_filter:
            passed &= ok
        similarities.append(similarity)
    return passed, similarities


def _groups_by_search(
    pass_index: int, pass_: Pass, side: _Orientation, pairs: Scored, sum_comps: list[Prepared], weights: _Weights,
    stats: PassStats,
) -> tuple[_Found, GroupPool]:  # fmt: skip
    group = pass_.group
    assert group is not None
    singles, members = side.split(pairs)
    order = np.lexsort((members, -pairs.score, singles))
    singles, members, member_score = singles[order], members[order], pairs.score[order]
    starts = np.flatnonzero(np.append(True, singles[1:] != singles[:-1])) if len(singles) else np.zeros(0, int)
    ends = np.append(starts[1:], len(singles))
    # Most constrained single records first; ties by row (record_id order), so the order is stable.
    schedule = np.lexsort((singles[starts], ends - starts)).tolist()
    single_amounts, _, member_amounts, _ = side.amounts(sum_comps[0])

    def sum_checks(targets: np.ndarray, sums: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        return _sum_checks(side, sum_comps, targets, sums)

    def searched(cells: np.ndarray, records: np.ndarray) -> list[Best | None]:
        """Answers for `records` whose candidates are the pair positions `cells` (one row each)."""
        rows = members[cells]
        targets = single_amounts[singles[starts[records]]]
        problem = SubsetProblem(rows, member_score[cells], member_amounts[rows], targets)
        return search(problem, group.min_size, group.max_size, sum_checks, weights.score, pass_.review_threshold)

    # A record's answer depends only on its free candidates at its turn, so answers are searched ahead
    # in batches (all records with all candidates free, then the stale ones among the next records).
    spans = _Spans(starts, ends, members, group)
    used = np.zeros(side.many_height, dtype=bool)
    taken_at = np.full(side.many_height, -1, dtype=np.int64)  # schedule position that took the row
    searched_at = np.zeros(len(starts), dtype=np.int64)  # schedule position of each record's answer
    ahead = spans.search(np.arange(len(starts)), used, searched)
    found = _Found()
    # What each record left without a group could still choose from at its turn, for explanations.
    left_out: list[int] = []
    offered: list[np.ndarray] = []
    # Plain lists: indexing NumPy arrays element by element in this loop costs more than the work.
    first_pair, end_pair, single_row = starts.tolist(), ends.tolist(), singles[starts].tolist()
    for position, i in enumerate(schedule):
        row = single_row[i]
        candidates = members[first_pair[i] : end_pair[i]]
        free = ~used[candidates]
        free_count = int(np.count_nonzero(free))
        if free_count < group.min_size:
            left_out.append(row)
            offered.append(candidates[free])
            continue
        if free_count > group.max_candidates:
            stats.group_search_truncated += 1
        stats.groups_searched += 1
        searched_rows, best = ahead[i]
        # The rows searched were the record's first free candidates then; if none has been taken
        # since, they are exactly its first free candidates now, so the answer stands.
        if used[searched_rows].any():
            window = np.asarray(schedule[position : position + _LOOKAHEAD])
            stale = window[spans.latest_taken(window, taken_at) >= searched_at[window]]
            searched_at[stale] = position
            ahead.update(spans.search(stale, used, searched))
            searched_rows, best = ahead[i]
        if best is None:
            left_out.append(row)
            offered.append(searched_rows)
            continue
        used[best.members] = True
        taken_at[best.members] = position
        found.single.append(row)
        found.members.append(best.members)
        found.score.append(best.score)
        found.ambiguous.append(best.runner_up >= best.score - pass_.ambiguity_margin - 1e-9)
        found.runner_up_score.append(best.runner_up)
    pool = pool_from_lists(pass_index, side.single_is_left, group.min_size, group.max_size, left_out, offered)
    return found, pool


class _Spans:
    """The records' candidate lists: record i's pair positions are starts[i]:ends[i], best first."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray, members: np.ndarray, group: GroupSpec) -> None:
        self.starts, self.lengths, self.members, self.group = starts, ends - starts, members, group

    def _cells(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(owner, pair position, first cell of each record) for every candidate of `records`."""
        lengths = self.lengths[records]
        first = np.cumsum(lengths) - lengths
        owner = np.repeat(np.arange(len(records)), lengths)
        cells = np.arange(int(lengths.sum())) - first[owner] + self.starts[records][owner]
        return owner, cells, first

    def latest_taken(self, records: np.ndarray, taken_at: np.ndarray) -> np.ndarray:
        """Per record, the last schedule position that took one of its candidates (-1: none taken)."""
        _, cells, first = self._cells(records)
        return np.maximum.reduceat(taken_at[self.members[cells]], first) if len(cells) else first

    def search(
        self, records: np.ndarray, used: np.ndarray, searched: Callable[[np.ndarray, np.ndarray], list[Best | None]]
    ) -> dict[int, tuple[np.ndarray, Best | None]]:
        """Per record with enough free candidates: (the candidate rows searched, its answer). The rows
        are its free candidates cut to max_candidates; records with equally many are searched together."""
        owner, cells, first = self._cells(records)
        free = ~used[self.members[cells]]
        free_so_far = np.cumsum(free)
        rank = free_so_far - (free_so_far[first] - free[first])[owner]  # 1-based among the record's free
        kept = free & (rank <= self.group.max_candidates)
        kept_owner, kept_cells = owner[kept], cells[kept]
        counts = np.bincount(kept_owner, minlength=len(records))
        out: dict[int, tuple[np.ndarray, Best | None]] = {}
        for k in np.unique(counts[counts >= self.group.min_size]).tolist():
            chosen = counts == k
            grid = kept_cells[chosen[kept_owner]].reshape(-1, k)
            rows = self.members[grid]
            answers = searched(grid, records[chosen])
            out.update(zip(records[chosen].tolist(), zip(rows, answers, strict=True), strict=True))
        return out


def _groups_by_key(
    ctx: EngineContext, pass_index: int, pass_: Pass, side: _Orientation, pairs: Scored, sum_comps: list[Prepared],
    weights: _Weights, left_free: np.ndarray, right_free: np.ndarray,
) -> tuple[_Found, GroupPool]:  # fmt: skip
    group = pass_.group
    assert group is not None
    assert group.by
    columns = []
    for index, key in enumerate(group.by):
        lk, rk = key_pair(ctx, key, f"passes[{pass_.name}].group.by[{index}]")
        columns.append((rk if side.single_is_left else lk).alias(f"g{index}"))
    group_a, _, group_valid = keys.hash_pair(pl.DataFrame(columns))
    many_free = right_free if side.single_is_left else left_free
    _, _, member_amounts, member_ok = side.amounts(sum_comps[0])
    eligible = np.flatnonzero(many_free & group_valid & member_ok)
    frame = pl.DataFrame({"row": eligible, "group": group_a[eligible]})
    sizes = frame.group_by("group").agg(pl.len().alias("size"), pl.col("row").min().alias("first"))
    sizes = sizes.filter(pl.col("size") >= group.min_size)
    frame = frame.join(sizes, on="group").sort("first", "row")
    # Group ids in order of their first member's row: deterministic.
    group_id = frame.select(pl.col("first").rank("dense") - 1).to_series().to_numpy().astype(np.int64)
    member_rows = frame["row"].to_numpy().astype(np.int64)
    n_groups = int(group_id.max()) + 1 if len(group_id) else 0
    group_of = np.full(side.many_height, -1, dtype=np.int64)
    group_of[member_rows] = group_id
    group_size = np.bincount(group_id, minlength=n_groups)
    exact_sum = np.zeros(n_groups, dtype=np.int64)
    np.add.at(exact_sum, group_id, member_amounts[member_rows])

    singles, members = side.split(pairs)
    in_group = group_of[members] >= 0
    candidate = pl.DataFrame({
        "single": singles[in_group], "group": group_of[members[in_group]], "score": pairs.score[in_group],
    }).group_by("single", "group").agg(pl.len().alias("n"), pl.col("score").mean().alias("mean"))  # fmt: skip
    # A group is a candidate only if every member passed the member-level filters.
    complete = candidate["n"].to_numpy() == group_size[candidate["group"].to_numpy()]
    candidate = candidate.filter(pl.lit(complete)).sort("single", "group")
    single_rows = candidate["single"].to_numpy().astype(np.int64)
    group_ids = candidate["group"].to_numpy().astype(np.int64)
    single_amounts = side.amounts(sum_comps[0])[0]
    passed, sims = _sum_checks(side, sum_comps, single_amounts[single_rows], exact_sum[group_ids])
    score = weights.score(candidate["mean"].to_numpy(), sims)
    keep = passed & (score >= pass_.review_threshold - 1e-12)
    assignment = assign_one_to_one(
        Scored(single_rows[keep], group_ids[keep], score[keep]), margin=pass_.ambiguity_margin, may_repeat=False
    )
    by_group = np.split(member_rows, np.cumsum(group_size)[:-1])  # rows are ordered by group, then row
    found = _Found()
    for k in range(len(assignment.left)):
        found.single.append(int(assignment.left[k]))
        found.members.append(np.sort(by_group[int(assignment.right[k])]))
        found.score.append(float(assignment.score[k]))
        found.ambiguous.append(bool(assignment.ambiguous[k]))
        found.runner_up_score.append(float(assignment.runner_up_score[k]))
    # A record left without a group could still have had any complete group that no record took.
    taken_single = np.isin(single_rows, assignment.left)
    taken_group = np.isin(group_ids, assignment.right)
    offered = ~taken_single & ~taken_group
    pool = pool_of_groups(
        pass_index, side.single_is_left, group.min_size, single_rows[offered], group_ids[offered], member_rows,
        group_size,
    )  # fmt: skip
    return found, pool


def _as_matches(pass_index: int, pass_: Pass, side: _Orientation, found: _Found) -> PassMatches:
    count = len(found.single)
    single = np.array(found.single, dtype=np.int64)
    members = np.concatenate(found.members) if count else np.zeros(0, dtype=np.int64)
    member_match = np.repeat(np.arange(count), [len(m) for m in found.members]) if count else members
    index = np.arange(count)
    score = np.array(found.score, dtype=np.float64)
    ambiguous = np.array(found.ambiguous, dtype=bool)
    auto = (score >= pass_.auto_match_threshold - 1e-12) & ~ambiguous
    runner_up = np.array(found.runner_up_score, dtype=np.float64)
    runner_up[~np.isfinite(runner_up)] = np.nan
    none = np.full(count, -1, dtype=np.int64)
    left_rows, left_match = (single, index) if side.single_is_left else (members, member_match)
    right_rows, right_match = (members, member_match) if side.single_is_left else (single, index)
    return PassMatches(
        pass_index=pass_index, kind=pass_.cardinality, score=score, auto=auto, ambiguous=ambiguous,
        runner_up_left=none, runner_up_right=none, runner_up_score=runner_up,
        left_rows=left_rows, left_match=left_match, right_rows=right_rows, right_match=right_match,
    )  # fmt: skip


def group_details(ctx: EngineContext, pass_: Pass, comps: list[Prepared], matches: PassMatches) -> pl.DataFrame:
    """Per match: sum comparisons on the group total, member comparisons of its weakest member."""
    side = _Orientation(pass_, ctx)
    single_rows, single_match = (
        (matches.left_rows, matches.left_match) if side.single_is_left else (matches.right_rows, matches.right_match)
    )
    member_rows, member_match = (
        (matches.right_rows, matches.right_match) if side.single_is_left else (matches.left_rows, matches.left_match)
    )
    single_of_match = np.empty(matches.count, dtype=np.int64)
    single_of_match[single_match] = single_rows
    parts: list[pl.Series] = []
    for comp in comps:
        if comp.kind != "numeric":
            continue
        single_values, _, member_values, _ = side.amounts(comp)
        sums = np.zeros(matches.count, dtype=np.int64)
        np.add.at(sums, member_match, member_values[member_rows])
        totals = totals_comparison(comp, side.single_is_left, single_values[single_of_match], sums)
        parts.append(comparison_frame([totals], np.arange(matches.count), np.arange(matches.count))["comparisons"])
    member_comps = [c for c in comps if c.kind != "numeric"]
    if member_comps:
        singles = single_of_match[member_match]
        li, ri = (singles, member_rows) if side.single_is_left else (member_rows, singles)
        frame = comparison_frame(member_comps, li, ri, workers=ctx.workers).with_columns(
            match=pl.Series(member_match), member=pl.Series(member_rows)
        )
        weakest = frame.sort("match", "score", "member").unique("match", keep="first").sort("match")
        parts.append(weakest["comparisons"])
    if not parts:
        return pl.DataFrame({"comparisons": [[] for _ in range(matches.count)]})
    return pl.DataFrame({f"p{i}": p for i, p in enumerate(parts)}).select(pl.concat_list(pl.all()).alias("comparisons"))


def totals_comparison(comp: Prepared, single_is_left: bool, single: np.ndarray, sums: np.ndarray) -> Prepared:
    """The sum comparison re-targeted at (single amount, group total) so details can describe it."""
    left, right = (single, sums) if single_is_left else (sums, single)
    ones = np.ones(len(single), dtype=bool)
    display = [format_units(v, comp.scale) for v in (left, right)]
    fields = {**comp.__dict__, "left": left, "right": right, "left_valid": ones, "right_valid": ones,
              "left_display": display[0], "right_display": display[1]}  # fmt: skip
    return Prepared(**fields)


def format_units(values: np.ndarray, scale: int) -> pl.Series:
    return pl.select(format_minor(pl.lit(pl.Series(values)), scale)).to_series()
