"""Shards of one job, matched separately, give exactly the single-process matches."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from synthetic import Scenario, generate

from matcher.domain import match, plan_shards, rules_from_data

AMOUNT = {"type": "numeric_tolerance", "absolute": "0.01"}
DATE = {"type": "date_window", "days": 3}
COMMON_KEY = {
    "passes": [
        {
            "name": "exact",
            "blocking": [{"field": "currency"}, {"field": "reference", "normalise": {"whitespace": "remove"}}],
            "comparisons": [AMOUNT, DATE],
        },
        {
            "name": "fuzzy",
            "blocking": [{"field": "currency"}],
            "comparisons": [AMOUNT, DATE, {"type": "fuzzy", "field": "reference", "mode": "score"}],
            "auto_match_threshold": 0.85,
            "review_threshold": 0.6,
        },
        {
            "name": "split",
            "cardinality": "one_to_many",
            "blocking": [{"field": "currency"}],
            "comparisons": [
                AMOUNT,
                DATE,
                {"type": "fuzzy", "field": "counterparty", "algorithm": "token_set", "threshold": 0.6},
            ],
            "group": {"max_size": 4},
        },
    ]
}
NO_COMMON_KEY = {
    "passes": [
        {
            "name": "by-reference",
            "blocking": [{"field": "reference", "normalise": {"whitespace": "remove"}}],
            "comparisons": [AMOUNT],
        },
        {
            "name": "by-counterparty",
            "blocking": [{"field": "counterparty", "normalise": {}}],
            "comparisons": [AMOUNT, DATE],
        },
    ]
}


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame]:
    generated = generate(
        2500, Scenario(typo=0.3, bank_prefix=0.2, splits=0.05, duplicates=0.03, hot_share=0.3, days=60), seed=5
    )
    return generated.bank, generated.ledger


@pytest.mark.parametrize(("rules", "strategy"), [(COMMON_KEY, "common_key"), (NO_COMMON_KEY, "components")])
def test_sharded_matches_equal_the_whole(
    data: tuple[pl.DataFrame, pl.DataFrame], rules: dict[str, Any], strategy: str
) -> None:
    rule_set = rules_from_data(rules)
    left, right = data
    whole = match(left, right, rule_set)
    plan = plan_shards(left, right, rule_set, n_shards=4)
    assert plan.strategy == strategy
    assert plan.left_shard.len() == left.height and plan.right_shard.len() == right.height
    parts = [
        match(left.filter(plan.left_shard == s), right.filter(plan.right_shard == s), rule_set).matched
        for s in range(4)
    ]
    merged = pl.concat(parts).sort("pass_index", "match_id")
    columns = ["match_id", "pass_name", "left_ids", "right_ids", "score", "status", "reason"]
    assert whole.matched.height > 100
    assert merged.select(columns).equals(whole.matched.select(columns))


def test_plan_is_independent_of_row_order(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    rule_set = rules_from_data(NO_COMMON_KEY)
    left, right = data
    plan = plan_shards(left, right, rule_set, n_shards=3)
    shuffled = left.with_row_index("i").sample(fraction=1.0, shuffle=True, seed=9)
    plan_shuffled = plan_shards(shuffled.drop("i"), right, rule_set, n_shards=3)
    assert plan.left_shard.gather(shuffled["i"]).to_list() == plan_shuffled.left_shard.to_list()
