"""Pass score of candidate pairs: filters first (cheapest first), then the weighted mean of scores.

score = Σ wᵢ·sᵢ / Σ wᵢ over score-mode comparisons; comparisons with `missing: ignore` and a null
value drop out of both sums; a pass without score-mode comparisons scores every surviving pair 1.0.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from matcher.domain.comparators import Prepared, evaluate, evaluate_block

# In a dense block, cdist over the whole matrix beats cpdist over the survivors of the cheap
# filters unless the filters removed most of it.
_DENSE_SURVIVOR_SHARE = 0.3
# Pairs per task when scoring on several threads: small enough that the single-threaded glue of one
# task (gathering strings, numpy) overlaps another task's rapidfuzz, large enough to amortise it.
_THREAD_CHUNK = 262_144


@dataclass(frozen=True)
class Scored:
    left: np.ndarray  # int64 row numbers
    right: np.ndarray
    score: np.ndarray  # float64

    @staticmethod
    def empty() -> Scored:
        return Scored(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))

    @staticmethod
    def concat(parts: list[Scored]) -> Scored:
        parts = [p for p in parts if len(p.left)]
        if not parts:
            return Scored.empty()
        return Scored(
            np.concatenate([p.left for p in parts]),
            np.concatenate([p.right for p in parts]),
            np.concatenate([p.score for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.left)

    def take(self, mask_or_index: np.ndarray) -> Scored:
        return Scored(self.left[mask_or_index], self.right[mask_or_index], self.score[mask_or_index])


def evaluation_order(comps: list[Prepared]) -> list[int]:
    """Filters first, cheap before expensive; score comparisons by descending weight, so the bound
    on what the remaining ones can add shrinks as fast as possible."""
    return sorted(
        range(len(comps)),
        key=lambda i: (not comps[i].is_filter, comps[i].cost_rank, -comps[i].spec.weight, i),
    )


def score_pairs(
    comps: list[Prepared], li: np.ndarray, ri: np.ndarray, *, cutoffs: list[float], workers: int,
    block: tuple[np.ndarray, np.ndarray] | None = None, floor: float | None = None,
) -> Scored:  # fmt: skip
    """Pairs (li[k], ri[k]) that pass every filter, with their pass score.

    With `floor`, pairs whose score can no longer reach it (even if every remaining comparison
    scored 1) are dropped before the remaining, costlier comparisons run. With `block`, (li, ri) is
    that block's full left-major grid and fuzzy comparisons may use cdist.
    """
    alive = np.arange(len(li))
    score_comps = [c for c in comps if not c.is_filter]
    total = sum(c.spec.weight for c in score_comps)
    # A comparison with `missing: ignore` can shrink the denominator, which breaks the bound.
    prune = floor is not None and total > 0 and not any(c.ignores_missing for c in score_comps)
    remaining = total
    numerator = np.zeros(0)
    denominator = np.zeros(0)
    started = False
    for index in evaluation_order(comps):
        if len(alive) == 0:
            return Scored.empty()
        comp = comps[index]
        if not comp.is_filter and not started:
            numerator, denominator, started = np.zeros(len(alive)), np.zeros(len(alive)), True
        if not comp.is_filter and prune and comp.kind == "fuzzy":
            reachable = (numerator + remaining) / total >= floor - 1e-6  # type: ignore[operator]
            alive, numerator, denominator = alive[reachable], numerator[reachable], denominator[reachable]
            if len(alive) == 0:
                return Scored.empty()
        if block is not None and comp.kind == "fuzzy" and len(alive) >= _DENSE_SURVIVOR_SHARE * len(li):
            full = evaluate_block(comp, block[0], block[1], cutoff=cutoffs[index], workers=workers)
            sim, passed, valid = full.similarity[alive], full.passed[alive], full.valid[alive]
        else:
            ev = evaluate(comp, li[alive], ri[alive], cutoff=cutoffs[index], workers=workers)
            sim, passed, valid = ev.similarity, ev.passed, ev.valid
        if comp.is_filter:
            alive = alive[passed]
            continue
        weight = comp.spec.weight
        present = valid if comp.ignores_missing else np.ones(len(alive), dtype=bool)
        numerator += weight * sim.astype(np.float64) * present
        denominator += weight * present
        remaining -= weight
    if not score_comps or not started:
        score = np.ones(len(alive), dtype=np.float64)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)
        # Similarities are float32; six decimals is all the precision they carry, and rounding
        # makes near-identical evidence a real tie (broken by record_id) instead of float noise.
        score = np.round(score, 6)
    return Scored(li[alive], ri[alive], score)


def exact_scores(comps: list[Prepared], li: np.ndarray, ri: np.ndarray, *, workers: int) -> np.ndarray:
    """Pass score of each pair (li[k], ri[k]) with filters ignored and every similarity in full.

    `score_pairs` with no cutoff and no floor, over the score-mode comparisons only: the same
    arithmetic as a match's score, but no fuzzy similarity is cut to 0 and no pair is dropped. This is
    the score an explanation's contributions add up to (details.comparison_frame).
    """
    score_comps = [c for c in comps if not c.is_filter]
    return score_pairs(score_comps, li, ri, cutoffs=[0.0] * len(score_comps), workers=workers).score


def score_pairs_threaded(
    comps: list[Prepared], li: np.ndarray, ri: np.ndarray, *, cutoffs: list[float], workers: int,
    floor: float | None = None,
) -> Scored:  # fmt: skip
    """`score_pairs` over chunks (bounding its temporaries) on `workers` threads, in pair order.

    rapidfuzz, polars and most numpy kernels release the GIL, but the glue between them does not:
    one task per core with rapidfuzz on one thread keeps both cores busy, where one task with
    rapidfuzz on two threads leaves one idle between its calls (3.5 s -> 2.7 s for 2.2M pairs).
    """
    starts = range(0, len(li), _THREAD_CHUNK)

    def task(start: int) -> Scored:
        chunk = slice(start, start + _THREAD_CHUNK)
        return score_pairs(comps, li[chunk], ri[chunk], cutoffs=cutoffs, workers=1, floor=floor)

    if workers <= 1 or len(starts) <= 1:
        return Scored.concat([task(start) for start in starts])
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score") as pool:
        return Scored.concat(list(pool.map(task, starts)))


def score_block(
    comps: list[Prepared], lrows: np.ndarray, rrows: np.ndarray, *, cutoffs: list[float], workers: int,
    floor: float | None = None,
) -> Scored:  # fmt: skip
    li = np.repeat(lrows, len(rrows))
    ri = np.tile(rrows, len(lrows))
    return score_pairs(comps, li, ri, cutoffs=cutoffs, workers=workers, block=(lrows, rrows), floor=floor)


def best_per_row(rows: np.ndarray, others: np.ndarray, score: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row number < size: the best-scoring other row (-1 if none) and its score (NaN).

    Ties go to the smaller other row, so the answer does not depend on pair order. One stable sort by
    row, then segment reductions: a three-key lexsort of millions of pairs costs seconds, and
    `np.maximum.at` scatters cost twice what this does (0.38 s -> 0.20 s for 850k pairs).
    """
    best_other = np.full(size, -1, dtype=np.int64)
    best_score = np.full(size, np.nan, dtype=np.float64)
    if len(rows) == 0:
        return best_other, best_score
    order = np.argsort(rows, kind="stable")
    sorted_rows, sorted_score = rows[order], score[order]
    starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
    top = np.maximum.reduceat(sorted_score, starts)
    at_top = sorted_score == np.repeat(top, np.diff(np.r_[starts, len(sorted_rows)]))
    contenders = np.where(at_top, others[order], np.iinfo(np.int64).max)
    owners = sorted_rows[starts]
    best_other[owners] = np.minimum.reduceat(contenders, starts)
    best_score[owners] = top
    return best_other, best_score
