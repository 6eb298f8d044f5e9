"""Splitting one job into shards that can be matched independently with exactly the same result.

A shard must hold whole blocks of every pass (and whole `group.by` groups). Two strategies:

* common key — every pass blocks on the same exact key expression(s) (and every grouped pass also
  groups on them): shard = stable hash of those keys. A candidate pair always shares the key.
* components — otherwise: connected components of the graph "record — exact key value" over all
  passes' blocking keys and group keys, packed into shards largest first.

Range keys and filter-derived keys only ever split blocks further, so they need no edges.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matcher.domain import keys
from matcher.domain.passes import EngineContext, key_pair
from matcher.domain.records import prepare_side
from matcher.domain.rule_parts import KeyExpr
from matcher.domain.rules import RuleSet

_ORIGINAL_ROW = "__input_row"


@dataclass(frozen=True)
class ShardPlan:
    left_shard: pl.Series  # UInt32, aligned with the input rows of `left`
    right_shard: pl.Series
    strategy: Literal["common_key", "components"]
    n_shards: int


def plan_shards(left: pl.DataFrame, right: pl.DataFrame, rules: RuleSet, n_shards: int) -> ShardPlan:
    if n_shards < 1:
        raise ValueError("n_shards must be >= 1")
    ctx = EngineContext(
        left=prepare_side(left.with_row_index(_ORIGINAL_ROW), "left"),
        right=prepare_side(right.with_row_index(_ORIGINAL_ROW), "right"),
        workers=1,
    )
    common = _common_keys(rules)
    if common:
        left_shard, right_shard = _by_common_key(ctx, common, n_shards)
        strategy: Literal["common_key", "components"] = "common_key"
    else:
        left_shard, right_shard = _by_components(ctx, rules, n_shards)
        strategy = "components"
    return ShardPlan(
        left_shard=_to_input_order(ctx.left.frame, left_shard),
        right_shard=_to_input_order(ctx.right.frame, right_shard),
        strategy=strategy,
        n_shards=n_shards,
    )


def _common_keys(rules: RuleSet) -> list[KeyExpr]:
    """Key expressions present in every pass's blocking and in every pass's `group.by`."""
    per_pass: list[set[str]] = []
    for pass_ in rules.passes:
        per_pass.append({k.model_dump_json() for k in pass_.blocking})
        if pass_.group is not None and pass_.group.by:
            per_pass.append({k.model_dump_json() for k in pass_.group.by})
    shared = set.intersection(*per_pass) if per_pass else set()
    return [KeyExpr.model_validate_json(k) for k in sorted(shared)]


def _by_common_key(ctx: EngineContext, common: list[KeyExpr], n_shards: int) -> tuple[np.ndarray, np.ndarray]:
    pairs = [key_pair(ctx, key, f"sharding key {key.describe()}") for key in common]
    left = pl.DataFrame([lk.alias(f"k{i}") for i, (lk, _) in enumerate(pairs)])
    right = pl.DataFrame([rk.alias(f"k{i}") for i, (_, rk) in enumerate(pairs)])
    distinct = pl.concat([left, right]).unique().sort(pl.all(), nulls_last=True)
    # BLAKE2b of the key's text, not Polars' hash: the plan must not change with a library upgrade.
    shard = [
        int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=8).digest(), "big") % n_shards
        for row in distinct.iter_rows()
    ]
    table = distinct.with_columns(pl.Series("shard", shard, dtype=pl.UInt32))
    columns = list(left.columns)
    lookup = [
        frame.join(table, on=columns, how="left", nulls_equal=True, maintain_order="left")["shard"].to_numpy()
        for frame in (left, right)
    ]
    return lookup[0], lookup[1]


def _by_components(ctx: EngineContext, rules: RuleSet, n_shards: int) -> tuple[np.ndarray, np.ndarray]:
    n_left, n_right = ctx.left.height, ctx.right.height
    rows: list[np.ndarray] = []
    key_nodes: list[np.ndarray] = []
    next_node = n_left + n_right
    for pass_index, pass_ in enumerate(rules.passes):
        key_sets = [pass_.blocking]
        if pass_.group is not None and pass_.group.by:
            key_sets.append(pass_.group.by)
        for set_index, key_set in enumerate(key_sets):
            if not key_set:
                # No exact key: the whole pass is one block, so everything is connected.
                rows.append(np.arange(n_left + n_right))
                key_nodes.append(np.full(n_left + n_right, next_node))
                next_node += 1
                continue
            where = f"passes[{pass_index}] key set {set_index}"
            pairs = [key_pair(ctx, key, where) for key in key_set]
            la, _, lvalid = keys.hash_pair(pl.DataFrame([lk.alias(f"k{i}") for i, (lk, _) in enumerate(pairs)]))
            ra, _, rvalid = keys.hash_pair(pl.DataFrame([rk.alias(f"k{i}") for i, (_, rk) in enumerate(pairs)]))
            values = np.concatenate([la[lvalid], ra[rvalid]])
            members = np.concatenate([np.flatnonzero(lvalid), n_left + np.flatnonzero(rvalid)])
            distinct, node = np.unique(values, return_inverse=True)
            rows.append(members)
            key_nodes.append(next_node + node)
            next_node += len(distinct)
    record = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    node = np.concatenate(key_nodes) if key_nodes else np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(record), np.int8), (record, node)), shape=(next_node, next_node))
    _, labels = connected_components(graph, directed=False)
    record_labels = labels[: n_left + n_right]
    shard_of_label = _pack(record_labels, n_shards)
    shards = shard_of_label[record_labels].astype(np.uint32)
    return shards[:n_left], shards[n_left:]


def _pack(labels: np.ndarray, n_shards: int) -> np.ndarray:
    """Largest components first onto the least-loaded shard; ties by first record, then shard id."""
    sizes = np.bincount(labels)
    first_member = np.full(len(sizes), len(labels))
    np.minimum.at(first_member, labels, np.arange(len(labels)))
    order = np.lexsort((first_member, -sizes))
    load = np.zeros(n_shards, dtype=np.int64)
    shard = np.zeros(len(sizes), dtype=np.int64)
    for label in order:
        if sizes[label] == 0:
            continue
        target = int(np.argmin(load))
        shard[label] = target
        load[target] += sizes[label]
    return shard


def _to_input_order(sorted_frame: pl.DataFrame, shard: np.ndarray) -> pl.Series:
    out = np.empty(sorted_frame.height, dtype=np.uint32)
    out[sorted_frame[_ORIGINAL_ROW].to_numpy()] = shard
    return pl.Series("shard", out, dtype=pl.UInt32)
