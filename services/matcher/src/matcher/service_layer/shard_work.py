"""The CPU-bound part of a shard, run in a worker process so the event loop keeps heartbeating.

Inputs and outputs are plain picklable values; the engine is deterministic, so the same shard always
yields the same items in the same order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from matcher.domain import RuleSet, match
from platform_common.events import MatchItem, UnmatchedItem


@dataclass(frozen=True)
class ShardOutput:
    matches: list[MatchItem]
    unmatched: list[UnmatchedItem]
    stats: dict[str, Any]


def match_records(left: pl.DataFrame, right: pl.DataFrame, rule_set: dict[str, Any]) -> ShardOutput:
    """Run the engine on one shard and convert its frames into event items."""
    rules = RuleSet.model_validate(rule_set)
    outcome = match(left, right, rules, workers=1)
    matches = [
        MatchItem(
            left_ids=list(row["left_ids"]),
            right_ids=list(row["right_ids"]),
            score=row["score"],
            status=row["status"],
            pass_name=row["pass_name"],
            explanation={**json.loads(row["explanation"]), "kind": row["kind"], "reason": row["reason"]},
        )
        for row in outcome.explain_matches().iter_rows(named=True)
    ]
    unmatched = [
        UnmatchedItem(
            side=side,
            record_id=row["record_id"],
            explanation={
                **json.loads(row["explanation"]),
                "reason": row["reason"],
                "nearest_id": row["nearest_id"],
                "nearest_score": row["nearest_score"],
            },
        )
        for side, frame in (("left", outcome.explain_unmatched("left")), ("right", outcome.explain_unmatched("right")))
        for row in frame.iter_rows(named=True)
    ]
    return ShardOutput(matches=matches, unmatched=unmatched, stats=outcome.stats.to_dict())


@dataclass(frozen=True)
class PlanOutput:
    strategy: str
    members: list[tuple[str, int, str]]  # (side "L"/"R", shard number, record id)


# Rows of each side the planner matches as a dry run: enough to meet every column the rules use, few
# enough to cost milliseconds whatever the dataset's size.
RULE_CHECK_ROWS = 100


def plan_job_shards(left: pl.DataFrame, right: pl.DataFrame, rule_set: dict[str, Any], shard_count: int) -> PlanOutput:
    """Assign every record to a shard so that each blocking block of every pass stays inside one shard.

    Raises the engine's error when the rules cannot run on these records."""
    from matcher.domain import plan_shards

    rules = RuleSet.model_validate(rule_set)
    # Sharding reads only the blocking keys, so a comparison that cannot run on its columns (a tolerance on
    # a text column) would first fail inside every shard. A dry run on the first rows fails the job now,
    # before any shard is requested; errors in rows beyond them still fail the job from their shard.
    match(left.head(RULE_CHECK_ROWS), right.head(RULE_CHECK_ROWS), rules, workers=1)
    plan = plan_shards(left, right, rules, n_shards=shard_count)
    members = [
        ("L", int(shard), record_id) for record_id, shard in zip(left["record_id"], plan.left_shard, strict=True)
    ]
    members += [
        ("R", int(shard), record_id) for record_id, shard in zip(right["record_id"], plan.right_shard, strict=True)
    ]
    return PlanOutput(strategy=plan.strategy, members=members)
