"""One-to-one assignment: optimal (checked by brute force), exclusive, ties detected as ambiguous."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.assignment import _compact, _solve_sparse, assign_one_to_one
from matcher.domain.scoring import Scored, best_per_row


def edges(triples: list[tuple[int, int, float]]) -> Scored:
    return Scored(
        np.array([t[0] for t in triples], dtype=np.int64),
        np.array([t[1] for t in triples], dtype=np.int64),
        np.array([t[2] for t in triples], dtype=np.float64),
    )


def brute_force_best(triples: list[tuple[int, int, float]]) -> float:
    """Best total score over every matching: each left takes one of its edges or none."""
    weights = {(left, right): score for left, right, score in triples}
    lefts = sorted({t[0] for t in triples})
    rights = sorted({t[1] for t in triples})
    best = 0.0
    for size in range(min(len(lefts), len(rights)) + 1):
        for chosen_lefts in itertools.combinations(lefts, size):
            for chosen_rights in itertools.permutations(rights, size):
                pairs = list(zip(chosen_lefts, chosen_rights, strict=True))
                if all(p in weights for p in pairs):
                    best = max(best, sum(weights[p] for p in pairs))
    return best


graphs = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(60, 100).map(lambda s: s / 100)),
    min_size=1,
    max_size=14,
).map(lambda ts: list({(a, b): (a, b, s) for a, b, s in ts}.values()))


@given(graphs)
@settings(max_examples=100, deadline=None)
def test_assignment_is_optimal_and_exclusive(triples: list[tuple[int, int, float]]) -> None:
    result = assign_one_to_one(edges(triples), margin=0.0)
    assert len(set(result.left.tolist())) == len(result.left)
    assert len(set(result.right.tolist())) == len(result.right)
    weights = {(a, b): s for a, b, s in triples}
    assert all((a, b) in weights for a, b in zip(result.left.tolist(), result.right.tolist(), strict=True))
    assert np.isclose(result.score.sum(), brute_force_best(triples))


@given(graphs)
@settings(max_examples=80, deadline=None)
def test_sparse_solver_agrees_with_brute_force(triples: list[tuple[int, int, float]]) -> None:
    e = edges(triples)
    rows, row_index = np.unique(e.left, return_inverse=True)
    cols, col_index = np.unique(e.right, return_inverse=True)
    picked = _solve_sparse(row_index, col_index, e.score, len(rows), len(cols))
    assert len(set(row_index[picked].tolist())) == len(picked)
    assert len(set(col_index[picked].tolist())) == len(picked)
    assert np.isclose(e.score[picked].sum(), brute_force_best(triples))


def test_optimal_beats_greedy() -> None:
    # Greedy would take the best edge (0-0, 0.95) and leave 1 unmatched; optimal takes 0-1 and 1-0.
    result = assign_one_to_one(edges([(0, 0, 0.95), (0, 1, 0.9), (1, 0, 0.9)]), margin=0.0)
    assert sorted(zip(result.left.tolist(), result.right.tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_ties_are_ambiguous_and_resolved_by_row_order() -> None:
    result = assign_one_to_one(edges([(0, 5, 1.0), (0, 6, 1.0)]), margin=0.0)
    assert (result.left.tolist(), result.right.tolist()) == ([0], [5])
    assert result.ambiguous.tolist() == [True]
    assert result.runner_up_right.tolist() == [6]


def test_margin_routes_close_runner_up_to_review() -> None:
    triples = [(0, 0, 0.95), (0, 1, 0.94), (1, 2, 0.95), (1, 3, 0.80)]
    assert assign_one_to_one(edges(triples), margin=0.02).ambiguous.tolist() == [True, False]
    assert assign_one_to_one(edges(triples), margin=0.0).ambiguous.tolist() == [False, False]


def test_competing_left_for_the_same_right_is_ambiguous() -> None:
    result = assign_one_to_one(edges([(0, 9, 0.9), (1, 9, 0.9)]), margin=0.0)
    assert result.left.tolist() == [0] and result.ambiguous.tolist() == [True]
    assert result.runner_up_left.tolist() == [1]


def test_big_component_uses_the_sparse_solver_and_stays_optimal() -> None:
    rng = np.random.default_rng(3)
    n = 600  # 600 x 600 > the dense solver's cell budget
    left = np.repeat(np.arange(n), 3)
    right = (left + np.tile([0, 1, 2], n)) % n  # a ring: one component of 600 x 600
    score = rng.uniform(0.6, 1.0, len(left)).round(3)
    e = edges(list(zip(left.tolist(), right.tolist(), score.tolist(), strict=True)))
    result = assign_one_to_one(e, margin=0.0)
    assert result.components_solved == 1
    assert len(set(result.left.tolist())) == len(result.left) == len(set(result.right.tolist()))
    # The dense Hungarian solution on the same graph has the same total.
    from scipy.optimize import linear_sum_assignment

    dense = np.zeros((n, n))
    dense[e.left, e.right] = np.maximum(dense[e.left, e.right], e.score)
    r, c = linear_sum_assignment(dense, maximize=True)
    assert np.isclose(result.score.sum(), dense[r, c].sum())


def brute_force_runner_up(triples: list[tuple[int, int, float]], left: int, right: int) -> tuple[int, int, float]:
    """(left, right, score) of the strongest competitor of pair (left, right), by the documented rule:
    highest score, then the right side's competitor wins a tie, then the smallest row number."""
    other_rights = sorted((-s, b) for a, b, s in triples if a == left and b != right)
    other_lefts = sorted((-s, a) for a, b, s in triples if b == right and a != left)
    best_right = (other_rights[0][1], -other_rights[0][0]) if other_rights else (-1, float("nan"))
    best_left = (other_lefts[0][1], -other_lefts[0][0]) if other_lefts else (-1, float("nan"))
    if best_right[0] < 0 and best_left[0] < 0:
        return -1, -1, float("nan")
    if best_left[0] < 0 or (best_right[0] >= 0 and best_right[1] >= best_left[1]):
        return -1, best_right[0], best_right[1]
    return best_left[0], -1, best_left[1]


# Sparse row numbers and coarse scores: many ties, and nodes far apart in the row space.
spread_graphs = st.lists(
    st.tuples(st.integers(0, 6).map(lambda n: n * 37), st.integers(0, 6), st.sampled_from([0.6, 0.7, 0.8, 1.0])),
    min_size=1,
    max_size=18,
).map(lambda ts: list({(a, b): (a, b, s) for a, b, s in ts}.values()))


@given(spread_graphs)
@settings(max_examples=150, deadline=None)
def test_runner_up_is_the_strongest_competitor(triples: list[tuple[int, int, float]]) -> None:
    result = assign_one_to_one(edges(triples), margin=0.0, may_repeat=False)
    for k, (left, right) in enumerate(zip(result.left.tolist(), result.right.tolist(), strict=True)):
        want_left, want_right, want_score = brute_force_runner_up(triples, left, right)
        assert (int(result.runner_up_left[k]), int(result.runner_up_right[k])) == (want_left, want_right)
        assert np.isclose(result.runner_up_score[k], want_score, equal_nan=True)
        assert bool(result.ambiguous[k]) == (not np.isnan(want_score) and want_score >= result.score[k] - 1e-9)


@given(st.lists(st.integers(0, 5000), min_size=0, max_size=60))
@settings(max_examples=100, deadline=None)
def test_compact_equals_unique_with_inverse(values: list[int]) -> None:
    nodes = np.array(values, dtype=np.int64)
    unique, inverse = _compact(nodes)
    want_unique, want_inverse = np.unique(nodes, return_inverse=True)
    assert unique.tolist() == want_unique.tolist()
    assert inverse.tolist() == want_inverse.tolist()


@given(spread_graphs)
@settings(max_examples=100, deadline=None)
def test_best_per_row_takes_highest_score_then_smallest_other(triples: list[tuple[int, int, float]]) -> None:
    e = edges(triples)
    size = int(e.left.max()) + 2  # one row with no pair at all
    best_other, best_score = best_per_row(e.left, e.right, e.score, size)
    for row in range(size):
        mine = sorted((-s, b) for a, b, s in triples if a == row)
        if mine:
            assert (int(best_other[row]), float(best_score[row])) == (mine[0][1], -mine[0][0])
        else:
            assert best_other[row] == -1
            assert np.isnan(best_score[row])


def test_many_small_components_are_solved_in_batches_and_stay_optimal() -> None:
    # 3,000 disjoint 2x2 components (12,000 edges): more than one solver batch.
    rng = np.random.default_rng(7)
    scores = np.round(rng.uniform(0.5, 1.0, size=(3000, 4)), 6)
    component = np.repeat(np.arange(3000), 4)
    left = 2 * component + np.tile([0, 0, 1, 1], 3000)
    right = 2 * component + np.tile([0, 1, 0, 1], 3000)
    result = assign_one_to_one(Scored(left, right, scores.ravel()), margin=0.0)
    # Each component's best is one of its two perfect matchings (scores are positive).
    best = np.maximum(scores[:, 0] + scores[:, 3], scores[:, 1] + scores[:, 2])
    assert len(result.left) == 6000
    assert np.isclose(result.score.sum(), best.sum())
