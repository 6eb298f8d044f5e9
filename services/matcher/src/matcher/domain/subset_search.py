"""Bounded subset-sum search for many single records at once (grouped passes, `group.max_size`).

The search itself is `grouping._best_subset`: for one single record, every combination of 2..max_size
of its candidates whose sum passes the amount test, scored, best first by (highest score, fewest
members, smallest member rows); the runner-up is the best score among the other combinations.
Called once per record from Python it costs ~0.3 ms of interpreter overhead for a few dozen
combinations. Here records with the same number of candidates are searched together as one NumPy
problem, with exactly the same arithmetic and the same order, so the answers are identical.

`closest` walks the same combinations for records that got no group, to explain how near the nearest
one came (closest_group.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import chain, combinations
from math import comb

import numpy as np

SumChecks = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, list[np.ndarray]]]
Scorer = Callable[[np.ndarray, list[np.ndarray]], np.ndarray]

# Cells (records x combinations x members) handled per NumPy step: bounds the temporaries.
_CHUNK_CELLS = 4_000_000
_NO_ROW = np.iinfo(np.int64).max


@dataclass(frozen=True)
class SubsetProblem:
    """Records sharing one candidate count k: candidate rows, member scores and amounts, n x k."""

    rows: np.ndarray
    scores: np.ndarray
    amounts: np.ndarray
    targets: np.ndarray  # the single records' amounts, n


@dataclass(frozen=True)
class Best:
    members: np.ndarray  # sorted member rows
    score: float
    runner_up: float  # -inf when no other combination qualifies


@cache
def combos(k: int, size: int) -> np.ndarray:
    flat = np.fromiter(chain.from_iterable(combinations(range(k), size)), dtype=np.int64, count=comb(k, size) * size)
    return flat.reshape(-1, size)


def search(
    problem: SubsetProblem, min_size: int, max_size: int, sum_checks: SumChecks, score: Scorer, review: float
) -> list[Best | None]:
    """The best subset of each record's candidates (None: no combination reaches `review`)."""
    n, k = problem.rows.shape
    parts = [_nothing(max_size)]
    for index, chunk in _chunks(n, k, min_size, max_size):
        parts.append(_kept(problem, index, chunk, sum_checks, score, review, max_size))
    record = np.concatenate([p[0] for p in parts])
    values = np.concatenate([p[1] for p in parts])
    sizes = np.concatenate([p[2] for p in parts])
    members = np.concatenate([p[3] for p in parts])
    out: list[Best | None] = [None] * n
    if len(record) == 0:
        return out
    first = _first_per_record(record, -values, sizes, members)
    others = values.copy()
    others[first] = -np.inf
    runner_up = np.full(n, -np.inf)
    np.maximum.at(runner_up, record, others)
    # Python scalars and one row block taken in bulk: per-element NumPy indexing would dominate here.
    winners = record[first]
    chosen = members[first]
    for j, (r, size, value, second) in enumerate(
        zip(winners.tolist(), sizes[first].tolist(), values[first].tolist(), runner_up[winners].tolist(), strict=True)
    ):
        out[r] = Best(members=chosen[j, :size], score=value, runner_up=second)
    return out


def _chunks(n: int, k: int, min_size: int, max_size: int) -> Iterator[tuple[np.ndarray, slice]]:
    """Each combination size's index (combos of k) with the record chunks it is evaluated in, each
    chunk small enough to keep its n x c x size work under _CHUNK_CELLS."""
    for size in range(min_size, min(max_size, k) + 1):
        index = combos(k, size)
        step = max(1, _CHUNK_CELLS // max(1, len(index) * size))
        for start in range(0, n, step):
            yield index, slice(start, min(n, start + step))


def _first_per_record(record: np.ndarray, rank: np.ndarray, sizes: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Position of each record's first combination by (rank, size, member rows), from one sort."""
    keys = [members[:, j] for j in range(members.shape[1] - 1, -1, -1)] + [sizes, rank, record]
    order = np.lexsort(keys)
    return order[np.flatnonzero(np.append(True, record[order][1:] != record[order][:-1]))] if len(order) else order


def _kept(
    problem: SubsetProblem, index: np.ndarray, chunk: slice, sum_checks: SumChecks, score: Scorer, review: float,
    width: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Qualifying combinations of one size in a chunk of records: (record, score, size, members)."""
    rows, scores, amounts = problem.rows[chunk], problem.scores[chunk], problem.amounts[chunk]
    c, size = len(index), index.shape[1]
    # Integer sums, member by member: exact in any order and without an n x c x size temporary.
    sums = amounts[:, index[:, 0]]
    for j in range(1, size):
        sums = sums + amounts[:, index[:, j]]
    targets = np.repeat(problem.targets[chunk], c)
    passed, similarities = sum_checks(targets, sums.ravel())
    passing = np.flatnonzero(passed)
    if not len(passing):
        return _nothing(width)
    # Few combinations pass the amount test, so member scores are averaged for those only (the same
    # row-wise float mean as over all of them, so the same values).
    mean = scores[(passing // c)[:, None], index[passing % c]].mean(axis=1)
    value = score(mean, [s[passing] for s in similarities])
    keep = value >= review - 1e-12
    flat = passing[keep]
    record = flat // c + (chunk.start or 0)
    member_rows = np.sort(np.take_along_axis(rows[flat // c], index[flat % c], axis=1), axis=1)
    padded = np.full((len(flat), width), _NO_ROW, dtype=np.int64)
    padded[:, :size] = member_rows
    return record.astype(np.int64), value[keep], np.full(len(flat), size, np.int64), padded


def _nothing(width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros((0, width), np.int64)


def closest(
    rows: np.ndarray, amounts: np.ndarray, targets: np.ndarray, min_size: int, max_size: int
) -> list[np.ndarray]:
    """Each record's combination of `min_size`..`max_size` of its k candidates (rows, amounts: n x k)
    whose sum is nearest its target: smallest |sum - target|, then fewest members, then smallest
    member rows. Exact: every combination is looked at, in chunks like `search`. Returns sorted member
    rows per record (empty when k < min_size)."""
    n, k = rows.shape
    parts = [(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, max_size), np.int64))]
    for index, chunk in _chunks(n, k, min_size, max_size):
        parts.append(_nearest_of_size(rows[chunk], amounts[chunk], targets[chunk], index, chunk.start, max_size))
    record, distance, sizes, members = (np.concatenate([p[i] for p in parts]) for i in range(4))
    out = [np.zeros(0, np.int64)] * n
    for position in _first_per_record(record, distance, sizes, members).tolist():
        out[int(record[position])] = members[position][: int(sizes[position])].copy()
    return out


def _nearest_of_size(
    rows: np.ndarray, amounts: np.ndarray, targets: np.ndarray, index: np.ndarray, offset: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per record, every combination of one size at the smallest distance (all ties, for `closest`
    to break them by member rows): (record, distance, size, members padded to `width`)."""
    distance = np.abs(amounts[:, index].sum(axis=2) - targets[:, None])
    record, combo = np.nonzero(distance == distance.min(axis=1)[:, None])
    size = index.shape[1]
    padded = np.full((len(record), width), _NO_ROW, dtype=np.int64)
    padded[:, :size] = np.sort(np.take_along_axis(rows[record], index[combo], axis=1), axis=1)
    return record + offset, distance[record, combo], np.full(len(record), size, np.int64), padded
