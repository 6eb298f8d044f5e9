"""The batched subset-sum search gives, record for record, the answer of a plain one-record search."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.subset_search import SubsetProblem, closest, search

TOLERANCE = 2


def sum_checks(targets: np.ndarray, sums: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    diff = np.abs(targets - sums)
    return diff <= TOLERANCE, [np.clip(1.0 - diff / (2.0 * TOLERANCE), 0.0, 1.0)]


def score(member_mean: np.ndarray, similarities: list[np.ndarray]) -> np.ndarray:
    return np.round((2.0 * member_mean + similarities[0]) / 3.0, 6)


def one_record(rows: list[int], scores: list[float], amounts: list[int], target: int, min_size: int,
               max_size: int, review: float) -> tuple[tuple[int, ...], float, float] | None:  # fmt: skip
    """Every combination, in Python: best by (score desc, size, member rows), runner-up = best other score."""
    qualifying = []
    for size in range(min_size, min(max_size, len(rows)) + 1):
        for combo in combinations(range(len(rows)), size):
            total = sum(amounts[i] for i in combo)
            if abs(target - total) > TOLERANCE:
                continue
            mean = np.array([[scores[i] for i in combo]]).mean(axis=1)
            similarity = np.array([min(1.0, max(0.0, 1.0 - abs(target - total) / (2.0 * TOLERANCE)))])
            value = float(score(mean, [similarity])[0])
            if value >= review - 1e-12:
                qualifying.append((-value, size, tuple(sorted(rows[i] for i in combo))))
    if not qualifying:
        return None
    qualifying.sort()
    best = qualifying[0]
    runner_up = max((-q[0] for q in qualifying[1:]), default=-np.inf)
    return best[2], -best[0], runner_up


record = st.tuples(
    st.lists(st.integers(1, 9), min_size=6, max_size=6),  # amounts of k = 6 candidates
    st.lists(st.sampled_from([0.5, 0.75, 1.0]), min_size=6, max_size=6),  # coarse scores: many ties
    st.integers(2, 30),  # target
)


@given(records=st.lists(record, min_size=1, max_size=12), review=st.sampled_from([0.0, 0.6, 0.9]))
@settings(max_examples=150, deadline=None)
def test_batched_search_equals_the_one_record_search(
    records: list[tuple[list[int], list[float], int]], review: float
) -> None:
    n, k = len(records), 6
    rows = np.arange(n * k, dtype=np.int64).reshape(n, k)[:, ::-1].copy()  # candidate order != row order
    amount_of_row = np.zeros(n * k, dtype=np.int64)
    for i, (amounts, _, _) in enumerate(records):
        amount_of_row[rows[i]] = amounts
    problem = SubsetProblem(
        rows=rows,
        scores=np.array([r[1] for r in records], dtype=np.float64),
        amounts=amount_of_row[rows],
        targets=np.array([r[2] for r in records], dtype=np.int64),
    )
    answers = search(problem, 2, 4, sum_checks, score, review)
    for i, (amounts, scores, target) in enumerate(records):
        expected = one_record(rows[i].tolist(), scores, amounts, target, 2, 4, review)
        got = answers[i]
        if expected is None:
            assert got is None
            continue
        assert got is not None
        assert tuple(got.members.tolist()) == expected[0]
        assert got.score == expected[1]
        assert got.runner_up == expected[2]


def test_a_record_with_no_qualifying_combination_gets_none_and_others_are_unaffected() -> None:
    problem = SubsetProblem(
        rows=np.array([[0, 1, 2], [3, 4, 5]], dtype=np.int64),
        scores=np.ones((2, 3)),
        amounts=np.array([[100, 200, 300], [1, 2, 3]], dtype=np.int64),
        targets=np.array([5, 5], dtype=np.int64),
    )
    answers = search(problem, 2, 3, sum_checks, score, 0.0)
    assert answers[0] is None
    assert answers[1] is not None
    # 2 + 3 = 5 exactly beats 1 + 2 + 3 = 6 (score) and ties break towards fewer members.
    assert answers[1].members.tolist() == [4, 5]


@given(records=st.lists(record, min_size=1, max_size=12), bounds=st.sampled_from([(2, 4), (1, 3), (3, 6)]))
@settings(max_examples=150, deadline=None)
def test_closest_equals_a_plain_search_for_the_smallest_difference(
    records: list[tuple[list[int], list[float], int]], bounds: tuple[int, int]
) -> None:
    n, k = len(records), 6
    rows = np.arange(n * k, dtype=np.int64).reshape(n, k)[:, ::-1].copy()  # candidate order != row order
    amounts = np.array([r[0] for r in records], dtype=np.int64)
    targets = np.array([r[2] for r in records], dtype=np.int64)
    found = closest(rows, amounts, targets, *bounds)
    for i in range(n):
        candidates = [
            (
                abs(int(targets[i]) - sum(int(amounts[i, j]) for j in combo)),
                size,
                sorted(int(rows[i, j]) for j in combo),
            )
            for size in range(bounds[0], min(bounds[1], k) + 1)
            for combo in combinations(range(k), size)
        ]
        assert found[i].tolist() == min(candidates)[2]


def test_closest_gives_nothing_to_a_record_with_fewer_candidates_than_a_group_needs() -> None:
    rows = np.array([[7]], dtype=np.int64)
    assert closest(rows, np.array([[5]], dtype=np.int64), np.array([5], dtype=np.int64), 2, 3)[0].tolist() == []
