"""Precision, recall and blocking recall of predicted links against a generator's truth table."""

from __future__ import annotations

import polars as pl

LINK_KEYS = ["left_id", "right_id"]


def _distinct_links(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.select(LINK_KEYS).unique()


def link_quality(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float | int]:
    """Pair-level precision/recall/F1 (a group match counts each member pair)."""
    links = _distinct_links(predicted)
    true_positives = links.join(truth.select(LINK_KEYS), on=LINK_KEYS, how="semi").height
    precision = true_positives / links.height if links.height else 0.0
    recall = true_positives / truth.height if truth.height else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"predicted_links": links.height, "true_links": truth.height,
            "true_positives": true_positives, "precision": precision, "recall": recall, "f1": f1}


def group_quality(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float | int]:
    """For N:1 truth groups: share of groups whose predicted member set is exactly the true one."""
    groups = truth.filter(pl.col("kind") == "N:1")
    if groups.is_empty():
        return {"true_groups": 0, "groups_exact": 0, "group_recall": 0.0}
    true_sets = groups.group_by("right_id").agg(pl.col("left_id").sort().alias("members"))
    predicted_sets = (_distinct_links(predicted).group_by("right_id")
                      .agg(pl.col("left_id").sort().alias("predicted")))
    exact = (true_sets.join(predicted_sets, on="right_id")
             .filter(pl.col("members") == pl.col("predicted")).height)
    return {"true_groups": true_sets.height, "groups_exact": exact,
            "group_recall": exact / true_sets.height}


def blocking_recall(candidates: pl.DataFrame, truth: pl.DataFrame) -> float:
    """Share of true links present among the candidate pairs a system generated."""
    if truth.is_empty():
        return 1.0
    survived = truth.select(LINK_KEYS).join(_distinct_links(candidates), on=LINK_KEYS, how="semi").height
    return survived / truth.height
