"""Explanations: every match carries its comparisons; every unmatched record its reason, its nearest
candidate and the comparison that failed, by how much."""

from __future__ import annotations

import json

from conftest import day, records
from matcher.domain import match, rules_from_data

AMOUNT = {"type": "numeric_tolerance", "absolute": "0.01"}
DATE = {"type": "date_window", "days": 3}


def test_unmatched_record_names_failed_comparison_and_by_how_much() -> None:
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "p",
                    "blocking": [{"field": "reference"}],
                    "comparisons": [{"type": "numeric_tolerance", "percent": "0.5"}, DATE],
                }
            ]
        }
    )
    left = records([{"record_id": "B1", "amount": "100.70", "value_date": day(1), "reference": "INV-9"}])
    right = records([{"record_id": "L1", "amount": "100.00", "value_date": day(2), "reference": "INV-9"}])
    outcome = match(left, right, rules)
    assert outcome.matched.height == 0
    row = outcome.explain_unmatched("left").row(0, named=True)
    assert (row["reason"], row["nearest_id"], row["nearest_pass"]) == ("filter_failed", "L1", "p")
    nearest = json.loads(row["explanation"])["nearest"][0]
    assert nearest["failed"] == [{"name": "amount", "detail": "amount off by 0.70 (0.7 %), tolerance 0.5 % of max"}]


def test_a_difference_just_over_the_tolerance_never_reads_as_the_tolerance() -> None:
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "p",
                    "blocking": [{"field": "reference"}],
                    "comparisons": [{"type": "numeric_tolerance", "percent": "0.5"}],
                }
            ]
        }
    )
    left = records([{"record_id": "B1", "amount": "201.01", "reference": "INV-9"}])
    right = records([{"record_id": "L1", "amount": "200.00", "reference": "INV-9"}])
    row = match(left, right, rules).explain_unmatched("left").row(0, named=True)
    nearest = json.loads(row["explanation"])["nearest"][0]
    # 1.01 of 201.01 is 0.50246 %: two decimals would say "0.5 %", inside a 0.5 % tolerance.
    assert nearest["failed"] == [{"name": "amount", "detail": "amount off by 1.01 (0.5025 %), tolerance 0.5 % of max"}]


def test_a_record_left_by_a_grouped_pass_is_explained_as_no_group_not_as_a_member_amount() -> None:
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "g",
                    "cardinality": "one_to_many",
                    "blocking": [{"field": "currency"}],
                    "comparisons": [{"type": "numeric_tolerance", "absolute": "0.01"}, DATE],
                    "group": {"by": [{"field": "reference"}]},
                }
            ]
        }
    )
    left = records(
        [
            {"record_id": f"L{i}", "amount": amount, "value_date": day(1), "currency": "EUR", "reference": ref}
            for i, (amount, ref) in enumerate([("100.00", "A"), ("50.00", "B"), ("75.00", "C")], start=1)
        ]
    )
    right = records(
        [
            {"record_id": f"R{i}", "amount": amount, "value_date": day(1), "currency": "EUR", "reference": ref}
            for i, (amount, ref) in enumerate(
                [("60.00", "A"), ("40.00", "A"), ("30.00", "B"), ("20.00", "B"), ("5.00", "B"), ("75.00", "C")],
                start=1,
            )
        ]
    )
    outcome = match(left, right, rules)
    assert outcome.matched.select("left_ids", "right_ids").rows() == [(["L1"], ["R1", "R2"])]
    reasons = dict(outcome.explain_unmatched("left").select("record_id", "reason").rows())
    # L2's group sums to 55.00 and L3's has one member (groups need two): neither fails a filter.
    assert reasons == {"L2": "no_group", "L3": "no_group"}
    closest = {
        row["record_id"]: json.loads(row["explanation"])["closest_group"]
        for row in outcome.explain_unmatched("left").iter_rows(named=True)
    }
    # Group B (R3-R5) is the only complete group left that either record could have had.
    assert closest["L2"]["ids"] == ["R3", "R4", "R5"]
    assert (
        closest["L2"]["detail"]
        == "closest group: 3 records summing to 55.00, amount off by 5.00 (9.09 %), tolerance 0.01"
    )
    assert closest["L3"]["ids"] == ["R3", "R4", "R5"] and closest["L3"]["difference"] == 20.0


def test_a_record_whose_nearest_candidate_went_to_an_earlier_pass_is_explained_as_taken() -> None:
    rules = rules_from_data(
        {
            "passes": [
                {"name": "by-reference", "blocking": [{"field": "reference"}], "comparisons": [DATE]},
                {"name": "by-amount", "blocking": [{"field": "currency"}], "comparisons": [AMOUNT, DATE]},
            ]
        }
    )
    left = records(
        [
            {"record_id": "L1", "amount": "10.00", "value_date": day(1), "currency": "EUR", "reference": "A"},
            {"record_id": "L2", "amount": "10.00", "value_date": day(1), "currency": "EUR", "reference": "B"},
        ]
    )
    right = records([{"record_id": "R1", "amount": "10.00", "value_date": day(1), "currency": "EUR", "reference": "A"}])
    outcome = match(left, right, rules)
    assert outcome.matched.select("left_ids", "right_ids").rows() == [(["L1"], ["R1"])]
    row = outcome.explain_unmatched("left").row(0, named=True)
    # R1 passes every filter of L2's pass, but the reference pass had already matched it.
    assert (row["record_id"], row["reason"], row["nearest_id"]) == ("L2", "taken", "R1")


def test_below_review_threshold_is_explained() -> None:
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "p",
                    "blocking": [{"field": "currency"}],
                    "comparisons": [AMOUNT, {"type": "fuzzy", "field": "counterparty", "mode": "score"}],
                    "review_threshold": 0.9,
                    "auto_match_threshold": 0.95,
                }
            ]
        }
    )
    left = records([{"record_id": "B1", "amount": "10.00", "currency": "EUR", "counterparty": "acme"}])
    right = records([{"record_id": "L1", "amount": "10.00", "currency": "EUR", "counterparty": "zenith"}])
    outcome = match(left, right, rules)
    row = outcome.unmatched_left.row(0, named=True)
    assert row["reason"] == "below_review_threshold" and row["nearest_id"] == "L1"
    assert row["nearest_score"] < 0.9
