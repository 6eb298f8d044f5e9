"""The nearest candidate of an unmatched record carries the exact pass score of that pair: the one
its explanation's contributions add up to, even though the passes cut hopeless fuzzy similarities
to 0 while scoring (comparators.score_cutoffs)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import day, records
from matcher.domain import match, rules_from_data
from matcher.domain.comparators import score_cutoffs
from matcher.domain.outcome import build_unmatched
from matcher.domain.passes import EngineContext, Nearest
from matcher.domain.records import prepare_side

AMOUNT = {"type": "numeric_tolerance", "absolute": "0.01"}
# Review threshold 0.9 over weights 1 + 1: the counterparty similarity must reach 0.8 for the pair
# to stand a chance, so the pass cuts a lower one to 0 and the pair scores 0.5 instead of 0.5 + s/2.
RULES = {
    "passes": [
        {
            "name": "p",
            "blocking": [{"field": "currency"}],
            "comparisons": [
                AMOUNT,
                {"type": "fuzzy", "field": "counterparty", "algorithm": "jaro_winkler", "mode": "score"},
                {"type": "date_window", "field": "value_date", "days": 3, "mode": "score"},
            ],
            "review_threshold": 0.9,
            "auto_match_threshold": 0.95,
        }
    ]
}


def _sides() -> tuple[pl.DataFrame, pl.DataFrame]:
    left = records([
        {"record_id": "B1", "amount": "10.00", "currency": "EUR", "value_date": day(1), "counterparty": "acme trading"},
    ])  # fmt: skip
    right = records([
        {"record_id": "L1", "amount": "10.00", "currency": "EUR", "value_date": day(1), "counterparty": "acorn partners"},
    ])  # fmt: skip
    return left, right


def _contributions(explanation: str) -> tuple[float, float]:
    nearest = json.loads(explanation)["nearest"][0]
    return nearest["score"], sum(c["contribution"] for c in nearest["comparisons"])


def test_nearest_score_is_the_exact_pass_score_the_explanation_adds_up_to() -> None:
    left, right = _sides()
    outcome = match(left, right, rules_from_data(RULES))
    for explained in (outcome.explain_unmatched("left"), outcome.explain_unmatched("right")):
        row = explained.row(0, named=True)
        assert row["reason"] == "below_review_threshold"
        explained_score, contributions = _contributions(row["explanation"])
        # The similarity is well above 0 but below the pass's cutoff: the pruned score would be 0.5.
        assert 0.5 < contributions < 0.9
        assert row["nearest_score"] == explained_score
        assert abs(row["nearest_score"] - contributions) <= 2e-6


def test_matched_scores_are_exact_and_equal_their_contributions() -> None:
    left, right = _sides()
    right = right.with_columns(counterparty=left["counterparty"])
    outcome = match(left, right, rules_from_data(RULES))
    row = outcome.explain_matches().row(0, named=True)
    explanation = json.loads(row["explanation"])
    assert row["score"] == 1.0
    assert abs(row["score"] - sum(c["contribution"] for c in explanation["comparisons"])) <= 2e-6


def test_the_reason_is_the_passs_verdict_even_if_the_exact_score_reads_otherwise() -> None:
    """A pair the pass scored below the review threshold keeps `below_review_threshold`. A cut similarity
    means the pair cannot reach the threshold, so the exact score stays below it too, up to rounding
    to 6 decimals; simulated here with a pass that reported a far lower score than the exact one."""
    left, right = _sides()
    right = right.with_columns(counterparty=left["counterparty"])  # exact score 1.0
    rules = rules_from_data(RULES)
    ctx = EngineContext(left=prepare_side(left, "left"), right=prepare_side(right, "right"), workers=1)
    reported = Nearest(np.array([0]), np.array([0.5]), np.array([0]), np.array([0.5]))
    free = np.ones(1, dtype=bool)
    left_info, right_info = build_unmatched(ctx, rules, [reported], free, free)
    for info in (left_info, right_info):
        assert info.reason.tolist() == ["below_review_threshold"]
        assert info.score.tolist() == [1.0]
        assert info.other.tolist() == [0] and info.pass_index.tolist() == [0]


def test_a_nearest_found_by_the_fallback_search_is_scored_like_the_explanation() -> None:
    left, right = _sides()
    right = right.with_columns(amount=right["amount"] * 2)  # fails the amount filter
    outcome = match(left, right, rules_from_data(RULES))
    row = outcome.explain_unmatched("left").row(0, named=True)
    assert row["reason"] == "filter_failed"
    explained_score, contributions = _contributions(row["explanation"])
    assert row["nearest_score"] == explained_score
    assert abs(row["nearest_score"] - contributions) <= 2e-6


@settings(max_examples=300, deadline=None)
@given(
    weights=st.lists(st.floats(0.05, 5.0), min_size=2, max_size=4),
    review=st.floats(0.3, 0.99),
)
def test_a_similarity_cut_below_its_cutoff_never_rounds_onto_the_review_threshold(
    weights: list[float], review: float
) -> None:
    # Every comparison scores; the first is the one cut. With the others at 1, a similarity just
    # under its cutoff must leave the pass score (rounded to 6 decimals, as scoring does) below the
    # review threshold, whatever its share of the total weight.
    comps = [
        SimpleNamespace(spec=SimpleNamespace(weight=w), is_filter=False, kind="fuzzy", ignores_missing=False)
        for w in weights
    ]
    cutoff = score_cutoffs(comps, review)[0]  # type: ignore[arg-type]
    if cutoff <= 0.0:
        return
    below = float(np.nextafter(np.float32(cutoff), np.float32(0)))
    total = sum(weights)
    score = round((total - weights[0] + weights[0] * below) / total, 6)
    assert score < review
