"""Globally optimal one-to-one assignment (maximum total score) with ambiguity detection.

The candidate graph is split into connected components. Components where one side has a single
record (a lone pair or a star) are solved in bulk: the best edge wins. Every other component is
solved exactly with SciPy (Hungarian algorithm on a dense matrix, or a sparse min-weight full
matching on an augmented graph for big components). Rows are record_id-ordered, so ties resolve the
same way on every run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from matcher.domain.scoring import Scored, best_per_row

_DENSE_SOLVER_MAX_CELLS = 250_000
# A component this dense goes to the dense solver up to a bigger size: SciPy's sparse matching does
# an augmenting-path search over every edge per row, minutes for a 1500 x 1500 block scored in full.
_DENSE_SOLVER_MAX_CELLS_IF_DENSE = 4_000_000
_DENSE_ENOUGH = 1 / 16
_BATCHED_COMPONENT_EDGES = 64
_SMALL_COMPONENT_BATCH_EDGES = 8192
# Lets the Hungarian solver prefer a real edge of score 0 over "no edge" (both weigh 0 otherwise).
_EDGE_BONUS = 1e-9


@dataclass(frozen=True)
class Assignment:
    left: np.ndarray
    right: np.ndarray
    score: np.ndarray
    ambiguous: np.ndarray  # bool
    # The strongest competitor of the pair: another left record for its right record, or another
    # right record for its left record (the other one is -1); NaN score when there is none.
    runner_up_left: np.ndarray
    runner_up_right: np.ndarray
    runner_up_score: np.ndarray
    components_solved: int  # components that needed a solver
    largest_component: int = 0  # edges in the biggest of them


def assign_one_to_one(edges: Scored, *, margin: float, may_repeat: bool = True) -> Assignment:
    """`may_repeat`: the same pair can occur twice (from overlapping split windows)."""
    if may_repeat:
        edges = _dedupe(edges)
    if len(edges) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Assignment(empty, empty, np.zeros(0), np.zeros(0, bool), empty, empty, np.zeros(0), 0)
    # Most pairs are alone: neither record has another candidate. They need no solver, no sort and
    # cannot be ambiguous; only the rest go through the component machinery.
    lone = (_degree(edges.left)[edges.left] == 1) & (_degree(edges.right)[edges.right] == 1)
    if lone.all():
        return _merge(_lone(edges))
    return _merge(_lone(edges.take(lone)), _assign_components(edges.take(~lone), margin))


def _degree(rows: np.ndarray) -> np.ndarray:
    degree: np.ndarray = np.bincount(rows)
    return degree


def _lone(edges: Scored) -> Assignment:
    none = np.full(len(edges), -1, dtype=np.int64)
    return Assignment(
        edges.left, edges.right, edges.score, np.zeros(len(edges), dtype=bool), none, none,
        np.full(len(edges), np.nan), 0,
    )  # fmt: skip


def _merge(*parts: Assignment) -> Assignment:
    """Concatenate, ordered by left row (each left row is in one pair at most)."""
    order = np.argsort(np.concatenate([p.left for p in parts]), kind="stable")
    fields = ("left", "right", "score", "ambiguous", "runner_up_left", "runner_up_right", "runner_up_score")
    merged = {f: np.concatenate([getattr(p, f) for p in parts])[order] for f in fields}
    return Assignment(
        **merged,
        components_solved=sum(p.components_solved for p in parts),
        largest_component=max(p.largest_component for p in parts),
    )


def _assign_components(edges: Scored, margin: float) -> Assignment:
    left_nodes, li = _compact(edges.left)
    right_nodes, ri = _compact(edges.right)
    n_left, n_right = len(left_nodes), len(right_nodes)
    graph = coo_matrix((np.ones(len(li), dtype=np.int8), (li, n_left + ri)), shape=(n_left + n_right,) * 2)
    _, labels = connected_components(graph, directed=False)
    edge_component = labels[li]
    lefts_in = np.bincount(labels[:n_left], minlength=labels.max() + 1)
    rights_in = np.bincount(labels[n_left:], minlength=labels.max() + 1)
    simple = np.minimum(lefts_in, rights_in)[edge_component] == 1

    chosen = [_best_edge_per_component(edges, edge_component, np.flatnonzero(simple))]
    hard = np.flatnonzero(~simple)
    edges_in = np.bincount(edge_component[hard], minlength=len(lefts_in))
    small = hard[edges_in[edge_component[hard]] <= _BATCHED_COMPONENT_EDGES]
    if len(small):
        # Disjoint components: a sparse solve over many small ones is optimal for each of them, and
        # one C call beats a Python loop over tens of thousands of 2x2 problems. But SciPy's solver
        # does work proportional to the whole graph per augmentation, so one call over all of them
        # is quadratic: batches of whole components of ~8k edges were 6x faster on 343k edges.
        order = small[np.argsort(edge_component[small], kind="stable")]
        starts = np.append(True, np.diff(edge_component[order]) != 0)
        component_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
        batch = component_start // _SMALL_COMPONENT_BATCH_EDGES
        for group in np.split(order, np.flatnonzero(np.diff(batch)) + 1):
            rows, row_index = _compact(li[group])
            cols, col_index = _compact(ri[group])
            chosen.append(group[_solve_sparse(row_index, col_index, edges.score[group], len(rows), len(cols))])
    big = hard[edges_in[edge_component[hard]] > _BATCHED_COMPONENT_EDGES]
    if len(big):
        # Big components one at a time: the Hungarian solver's cost grows with the component, and
        # mixing them into one sparse problem makes every augmenting path search longer.
        order = big[np.argsort(edge_component[big], kind="stable")]
        for group in np.split(order, np.flatnonzero(np.diff(edge_component[order])) + 1):
            chosen.append(group[_solve_component(li[group], ri[group], edges.score[group])])
    solved = int((edges_in > 0).sum())
    picked = np.sort(np.concatenate(chosen))
    result = _with_ambiguity(edges, picked, margin, solved)
    return dataclasses.replace(result, largest_component=int(edges_in.max()) if len(hard) else 0)


def _compact(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(nodes, return_inverse=True)` for non-negative row numbers, without sorting.

    Row numbers are dense, so a presence table and its running count give the same sorted ids and
    inverse in linear time; np.unique sorts millions of edges several times per pass otherwise.
    """
    if len(nodes) == 0:
        return nodes, nodes.astype(np.int64)
    size = int(nodes.max()) + 1
    if size > 8 * len(nodes):  # sparse ids (a small component deep in a big pool): sorting is cheaper
        unique, inverse = np.unique(nodes, return_inverse=True)
        return unique, inverse.astype(np.int64, copy=False)
    present = np.zeros(size, dtype=bool)
    present[nodes] = True
    position = np.cumsum(present) - 1
    return np.flatnonzero(present), position[nodes]


def _dedupe(edges: Scored) -> Scored:
    # Split blocks overlap, so a pair can arrive twice (always with the same score).
    order = np.lexsort((edges.right, edges.left))
    edges = edges.take(order)
    if len(edges) < 2:
        return edges
    fresh = np.append(True, (np.diff(edges.left) != 0) | (np.diff(edges.right) != 0))
    return edges.take(fresh)


def _best_edge_per_component(edges: Scored, component: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    if len(candidates) == 0:
        return candidates
    sub = component[candidates]
    order = np.lexsort((edges.right[candidates], edges.left[candidates], -edges.score[candidates], sub))
    first = np.append(True, sub[order][1:] != sub[order][:-1])
    best: np.ndarray = candidates[order[first]]
    return best


def _solve_component(li: np.ndarray, ri: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Indices (into this component's edges) of a maximum-total-score matching."""
    rows, row_index = _compact(li)
    cols, col_index = _compact(ri)
    cells = len(rows) * len(cols)
    if cells <= _DENSE_SOLVER_MAX_CELLS or (
        cells <= _DENSE_SOLVER_MAX_CELLS_IF_DENSE and len(li) >= _DENSE_ENOUGH * cells
    ):
        weights = np.zeros((len(rows), len(cols)), dtype=np.float64)
        edge_at = np.full((len(rows), len(cols)), -1, dtype=np.int64)
        weights[row_index, col_index] = score + _EDGE_BONUS
        edge_at[row_index, col_index] = np.arange(len(li))
        r, c = linear_sum_assignment(weights, maximize=True)
        picked = edge_at[r, c]
        return np.sort(picked[picked >= 0])
    return _solve_sparse(row_index, col_index, score, len(rows), len(cols))


def _solve_sparse(row_index: np.ndarray, col_index: np.ndarray, score: np.ndarray, n: int, m: int) -> np.ndarray:
    """Max-weight matching as a min-weight *full* matching on an augmented graph.

    Left nodes 0..n-1 and dummy-lefts n..n+m-1; right nodes 0..m-1 and dummy-rights m..m+n-1.
    Real edge i-j costs 3 - score; leaving i unmatched (i - dummy-right i) or j unmatched
    (dummy-left j - j) costs 2; dummy-left j - dummy-right i exists for every real edge i-j and
    costs 1, so a full matching always exists. Every full matching has n + m edges, so minimising
    cost maximises the summed score of the real edges it uses (all costs stay > 0: SciPy treats a
    stored 0 as a missing edge).
    """
    k = len(score)
    rows = np.concatenate([row_index, np.arange(n), n + np.arange(m), n + col_index])
    cols = np.concatenate([col_index, m + np.arange(n), np.arange(m), m + row_index])
    data = np.concatenate([3.0 - score - _EDGE_BONUS, np.full(n, 2.0), np.full(m, 2.0), np.full(k, 1.0)])
    graph = csr_matrix(coo_matrix((data, (rows, cols)), shape=(n + m, m + n)))
    matched_rows, matched_cols = min_weight_full_bipartite_matching(graph)
    real = (matched_rows < n) & (matched_cols < m)
    # Map matched (i, j) back to edge indices through a sorted edge code.
    codes = row_index.astype(np.int64) * m + col_index
    order = np.argsort(codes)
    wanted = matched_rows[real].astype(np.int64) * m + matched_cols[real]
    return np.sort(order[np.searchsorted(codes[order], wanted)])


def _with_ambiguity(edges: Scored, picked: np.ndarray, margin: float, solved: int) -> Assignment:
    left, right, score = edges.left[picked], edges.right[picked], edges.score[picked]
    alt_right, alt_right_score = _alternative(edges.left, edges.right, edges.score, left, right)
    alt_left, alt_left_score = _alternative(edges.right, edges.left, edges.score, right, left)
    right_wins = np.nan_to_num(alt_right_score, nan=-np.inf) >= np.nan_to_num(alt_left_score, nan=-np.inf)
    best_alt = np.where(right_wins, alt_right_score, alt_left_score)
    ambiguous = np.nan_to_num(best_alt, nan=-np.inf) >= score - margin - 1e-9
    runner_up_left = np.where(right_wins | np.isnan(best_alt), -1, alt_left)
    runner_up_right = np.where(right_wins & ~np.isnan(best_alt), alt_right, -1)
    return Assignment(left, right, score, ambiguous, runner_up_left, runner_up_right, best_alt, solved)


def _alternative(
    node: np.ndarray, other: np.ndarray, score: np.ndarray, pair_node: np.ndarray, pair_other: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each chosen pair: the best other candidate of its `node` record (-1 / NaN if none).

    Best means highest score, then smallest row: the edges to the pair's own partner are set aside
    and the best remaining edge per node is found without sorting (see `best_per_row`).
    """
    size = int(node.max()) + 1
    partner = np.full(size, -1, dtype=np.int64)
    partner[pair_node] = pair_other
    competing = other != partner[node]
    alt_other, alt_score = best_per_row(node[competing], other[competing], score[competing], size)
    return alt_other[pair_node], alt_score[pair_node]
