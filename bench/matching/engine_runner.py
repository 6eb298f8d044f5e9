"""Our engine (``matcher.domain.match``) on the benchmark workloads, with rules equivalent to them.

The rule sets are ordinary version-1 rule sets (services/matcher/ENGINE.md §2), the same a user would
write for these reconciliations; they are printed by ``--show-rules`` so they can be tried with
``recon match``. Only ``auto`` matches count as the engine's links; ``review`` proposals are
reported separately (they are not committed without a person).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from system_run import SystemRun

from matcher.domain import RuleSet, match

AMOUNT_FILTER = {"type": "numeric_tolerance", "name": "amount", "field": "amount", "absolute": "0.01",
                 "mode": "filter"}
DATE_FILTER = {"type": "date_window", "name": "value_date", "field": "value_date", "days": 3,
               "direction": "either", "mode": "filter"}
CORES = 2
NORMALISED = {"case": True, "whitespace": True, "punctuation": True}

EXACT_RULES: dict[str, Any] = {
    "version": 1,
    "name": "bench-exact",
    "passes": [{
        "name": "exact-reference",
        "cardinality": "one_to_one",
        "blocking": [{"field": "currency"}, {"field": "reference"}],
        "comparisons": [AMOUNT_FILTER, DATE_FILTER],
        "auto_match_threshold": 1.0,
        "review_threshold": 0.6,
    }],
}

FUZZY_RULES: dict[str, Any] = {
    "version": 1,
    "name": "bench-fuzzy",
    "passes": [
        {
            # Half the bank references survive intact up to case and punctuation: take those first,
            # so the fuzzy pass only sees what is left (a cascade, §3.8 of the research note).
            "name": "normalised-reference",
            "cardinality": "one_to_one",
            "blocking": [{"field": "currency"}, {"field": "reference", "normalise": NORMALISED}],
            "comparisons": [AMOUNT_FILTER, DATE_FILTER],
            "auto_match_threshold": 1.0,
            "review_threshold": 0.6,
        },
        {
            "name": "fuzzy",
            "cardinality": "one_to_one",
            "blocking": [{"field": "currency"}],
            "comparisons": [
                AMOUNT_FILTER,
                DATE_FILTER,
                {"type": "fuzzy", "name": "reference_similarity", "field": "reference",
                 "algorithm": "jaro_winkler", "threshold": 0.0, "mode": "score", "weight": 3.0},
                {"type": "fuzzy", "name": "counterparty_similarity", "field": "counterparty",
                 "algorithm": "token_set", "threshold": 0.0, "mode": "score", "weight": 1.0},
                {"type": "date_window", "name": "date_closeness", "field": "value_date", "days": 3,
                 "direction": "either", "mode": "score", "weight": 0.5},
            ],
            # chosen by tune_thresholds.py on other data (seed 777): highest recall at precision >= 99.5 %
            "auto_match_threshold": 0.55,
            "review_threshold": 0.50,
            "ambiguity_margin": 0.0,
        },
    ],
}

AGGREGATE_RULES: dict[str, Any] = {
    "version": 1,
    "name": "bench-aggregate",
    "passes": [
        {
            "name": "single-invoice",
            "cardinality": "one_to_one",
            "blocking": [{"field": "currency"}, {"field": "counterparty", "normalise": NORMALISED}],
            "comparisons": [
                AMOUNT_FILTER,
                {**DATE_FILTER, "days": 5},
                {"type": "fuzzy", "name": "reference_similarity", "field": "reference",
                 "algorithm": "token_set", "threshold": 0.0, "mode": "score", "weight": 1.0},
                {"type": "date_window", "name": "date_closeness", "field": "value_date", "days": 5,
                 "direction": "either", "mode": "score", "weight": 1.0},
            ],
            "auto_match_threshold": 0.5,
            "review_threshold": 0.3,
        },
        {
            "name": "invoice-group",
            "cardinality": "many_to_one",
            "blocking": [{"field": "currency"}, {"field": "counterparty", "normalise": NORMALISED}],
            "comparisons": [AMOUNT_FILTER, {**DATE_FILTER, "days": 5}],
            "group": {"max_size": 5, "min_size": 2},
            "auto_match_threshold": 1.0,
            "review_threshold": 0.6,
        },
    ],
}

RULES = {"exact": EXACT_RULES, "fuzzy": FUZZY_RULES, "aggregate": AGGREGATE_RULES}


def _member_pairs(matched: pl.LazyFrame) -> pl.DataFrame:
    # Lazy, so the filtered match table is never materialised next to its exploded pairs.
    return (matched.select(pl.col("left_ids").alias("left_id"), pl.col("right_ids").alias("right_id"))
            .explode("left_id").explode("right_id").collect())


def _stages(stats: dict[str, Any]) -> dict[str, float]:
    """The engine's own stage timings: per pass (prepare, blocking, scoring, ...) and the explain step."""
    stages: dict[str, float] = {}
    for index, pass_stats in enumerate(stats.get("passes", [])):
        for stage, seconds in pass_stats.get("seconds", {}).items():
            stages[f"pass{index}.{stage}"] = seconds
    for stage, seconds in stats.get("seconds", {}).items():
        stages[f"engine.{stage}"] = seconds
    return stages


def run_rules(rules_document: dict[str, Any], left: pl.DataFrame, right: pl.DataFrame) -> SystemRun:
    rules = RuleSet.model_validate(rules_document)
    outcome = match(left, right, rules, workers=CORES)
    stats = outcome.stats.to_dict()
    matched = outcome.matched
    nearest = (outcome.unmatched_left.filter(pl.col("nearest_id").is_not_null())
               .select(pl.col("record_id").alias("left_id"), pl.col("nearest_id").alias("right_id")))
    return SystemRun(
        _member_pairs(matched.lazy().filter(pl.col("status") == "auto")),
        int(stats["candidates"]),
        _stages(stats),
        review_pairs=_member_pairs(matched.lazy().filter(pl.col("status") == "review")),
        nearest_pairs=nearest,
        details={"stats": stats, "oversized_blocks_split": stats.get("oversized_blocks_split"),
                 "hot_records_reblocked": stats.get("hot_records_reblocked")},
    )


def candidate_pairs(system: str, left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """Every (left_id, right_id) pair the engine's blocking generated, over all passes.

    An untimed re-run with `blocking.generate` observed (the engine has no public hook for this and
    should not pay for one), so the benchmark can state the engine's exact blocking recall even
    when hot records were re-blocked or a block was split."""
    from matcher.domain import grouping, passes
    from matcher.domain.blocking import Candidates, generate
    from matcher.domain.records import prepare_side

    seen_left: list[np.ndarray] = []
    seen_right: list[np.ndarray] = []

    def observed(plan: Any, left_rows: np.ndarray, right_rows: np.ndarray) -> Candidates:
        cands = generate(plan, left_rows, right_rows)
        li, ri = cands.pairs()
        seen_left.append(li)
        seen_right.append(ri)
        for block_left, block_right in cands.dense_blocks + cands.split_blocks:
            seen_left.append(np.repeat(block_left, len(block_right)))
            seen_right.append(np.tile(block_right, len(block_left)))
        return cands

    passes.generate, grouping.generate = observed, observed  # type: ignore[assignment]
    try:
        ENGINE_SYSTEMS[system](left, right)
    finally:
        passes.generate, grouping.generate = generate, generate  # type: ignore[assignment]
    left_ids, right_ids = prepare_side(left, "left").ids, prepare_side(right, "right").ids
    rows_left = np.concatenate(seen_left) if seen_left else np.zeros(0, np.int64)
    rows_right = np.concatenate(seen_right) if seen_right else np.zeros(0, np.int64)
    return pl.DataFrame({"left_id": left_ids.gather(rows_left), "right_id": right_ids.gather(rows_right)}).unique()


ENGINE_SYSTEMS: dict[str, Callable[[pl.DataFrame, pl.DataFrame], SystemRun]] = {
    "engine_exact": lambda left, right: run_rules(EXACT_RULES, left, right),
    "engine_fuzzy": lambda left, right: run_rules(FUZZY_RULES, left, right),
    "engine_aggregate": lambda left, right: run_rules(AGGREGATE_RULES, left, right),
}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="print a workload's rule set as JSON")
    parser.add_argument("workload", choices=sorted(RULES))
    print(json.dumps(RULES[parser.parse_args().workload], indent=2))
