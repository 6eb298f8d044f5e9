"""Accuracy on generated bank-vs-ledger data with known truth, per corruption scenario.

Precision and recall are pairwise over all proposed matches (auto and review) and over auto matches
alone; the floors sit a little under the measured figures so the tests catch regressions without
being brittle. The figures are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import pytest
from synthetic import Scenario, generate, precision_recall

from matcher.domain import match, rules_from_data

ROWS = 3_000
AMOUNT = {"type": "numeric_tolerance", "name": "amount", "percent": "0.5", "mode": "filter"}
RULES = rules_from_data(
    {
        "passes": [
            {
                "name": "exact-reference",
                "blocking": [{"field": "currency"}, {"field": "reference", "normalise": {"whitespace": "remove"}}],
                "comparisons": [{"type": "numeric_tolerance", "absolute": "0.01"}, {"type": "date_window", "days": 5}],
                "auto_match_threshold": 1.0,
            },
            {
                "name": "fuzzy",
                "blocking": [{"field": "currency"}],
                "comparisons": [
                    AMOUNT,
                    {"type": "date_window", "days": 5},
                    {"type": "fuzzy", "field": "reference", "algorithm": "jaro_winkler", "mode": "score", "weight": 3},
                    {"type": "fuzzy", "field": "counterparty", "algorithm": "token_set", "mode": "score", "weight": 1},
                    {
                        "type": "numeric_tolerance",
                        "name": "amount_closeness",
                        "percent": "0.5",
                        "mode": "score",
                        "weight": 1,
                    },
                    {"type": "date_window", "name": "date_closeness", "days": 5, "mode": "score", "weight": 1},
                ],
                "auto_match_threshold": 0.85,
                "review_threshold": 0.7,
                "ambiguity_margin": 0.01,
            },
            {
                "name": "split",
                "cardinality": "one_to_many",
                "blocking": [{"field": "currency"}],
                "comparisons": [
                    {"type": "numeric_tolerance", "absolute": "0.01"},
                    {"type": "date_window", "days": 5},
                    {"type": "fuzzy", "field": "counterparty", "algorithm": "token_set", "threshold": 0.7},
                ],
                "group": {"max_size": 4},
                "auto_match_threshold": 0.9,
                "review_threshold": 0.6,
            },
        ]
    }
)

# A third of the lines on ten round amounts within one quarter: amount and date alone cannot tell
# those apart, so the references and names have to.
HOT = 0.35
DAYS = 90
SCENARIOS = {
    # name: (scenario, floors: precision all, recall all, precision auto)
    "typos": (Scenario(typo=0.6, hot_share=HOT, days=DAYS), (0.99, 0.97, 0.995)),
    "transposed-digits": (Scenario(transposition=0.6, hot_share=HOT, days=DAYS), (0.99, 0.97, 0.995)),
    # Jaro-Winkler is weak on "SEPA CT " prefixes plus truncation (see the research note); the rest go to review.
    "bank-prefix-and-truncation": (
        Scenario(bank_prefix=0.5, truncation=0.4, hot_share=HOT, days=DAYS),
        (0.99, 0.88, 0.995),
    ),
    "amount-drift": (Scenario(amount_drift=0.4, typo=0.2, hot_share=HOT, days=DAYS), (0.99, 0.96, 0.995)),
    "date-lag": (Scenario(date_lag_days=5, typo=0.3, hot_share=HOT, days=DAYS), (0.99, 0.96, 0.995)),
    "split-payments": (Scenario(splits=0.15, typo=0.2, hot_share=HOT, days=DAYS), (0.99, 0.98, 0.995)),
    "duplicates": (Scenario(duplicates=0.1, typo=0.2, hot_share=HOT, days=DAYS), (0.99, 0.96, 0.995)),
    "missing-counterparts": (Scenario(missing=0.35, typo=0.3, hot_share=HOT, days=DAYS), (0.99, 0.96, 0.995)),
    "hot-amounts": (Scenario(hot_share=0.5, typo=0.4, bank_prefix=0.3, days=DAYS), (0.99, 0.97, 0.995)),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_precision_and_recall_per_scenario(name: str) -> None:
    scenario, (min_precision, min_recall, min_auto_precision) = SCENARIOS[name]
    data = generate(ROWS, scenario, seed=2024)
    outcome = match(data.bank, data.ledger, RULES)
    precision, recall, predicted = precision_recall(outcome.matched, data.truth)
    auto_precision, auto_recall, _ = precision_recall(outcome.auto, data.truth)
    print(f"\n{name:28s} pairs={len(data.truth):5d} predicted={predicted:5d} "
          f"P={precision:.4f} R={recall:.4f} | auto P={auto_precision:.4f} R={auto_recall:.4f} "
          f"review={outcome.stats.review_matches}")  # fmt: skip
    assert precision >= min_precision
    assert recall >= min_recall
    assert auto_precision >= min_auto_precision
    if scenario.duplicates:
        # Identical ledger twins are indistinguishable: a line matching either goes to review, so a
        # person sees the possible double booking instead of the engine picking one silently.
        ledger_ids = data.ledger["record_id"].to_list()
        twinned = {rid.removesuffix("d") for rid in ledger_ids if rid.endswith("d")}
        auto_rights = {rid.removesuffix("d") for rights in outcome.auto["right_ids"].to_list() for rid in rights}
        assert twinned, "the scenario has no duplicates to check"
        assert not auto_rights & twinned
