"""A record a grouped pass left unmatched (`no_group`) says how close the closest group came: which
records, their sum, the difference and the tolerance, or why no group was possible at all."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from conftest import day, records
from matcher.domain import match, rules_from_data

AMOUNT = {"type": "numeric_tolerance", "absolute": "0.01"}


def invoice_rules(max_size: int = 3) -> Any:
    return rules_from_data(
        {
            "passes": [
                {
                    "name": "invoices",
                    "cardinality": "many_to_one",
                    "blocking": [{"field": "counterparty"}],
                    "comparisons": [AMOUNT, {"type": "date_window", "days": 5}],
                    "group": {"max_size": max_size, "min_size": 2},
                }
            ]
        }
    )


def invoices(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return records(
        [{"record_id": rid, "amount": amount, "value_date": day(d), "counterparty": "ACME"} for rid, amount, d in rows]
    )


def payments(rows: list[tuple[str, str]]) -> pl.DataFrame:
    return records(
        [{"record_id": rid, "amount": amount, "value_date": day(1), "counterparty": "ACME"} for rid, amount in rows]
    )


def closest_groups(left: pl.DataFrame, right: pl.DataFrame, rules: Any, side: str = "right") -> dict[str, Any]:
    outcome = match(left, right, rules)
    explained = outcome.explain_unmatched(side)  # type: ignore[arg-type]
    return {
        row["record_id"]: (row["reason"], json.loads(row["explanation"]).get("closest_group"))
        for row in explained.iter_rows(named=True)
    }


def test_a_payment_whose_invoices_fall_short_names_them_and_the_difference() -> None:
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "500.00", 1), ("INV-3", "334.50", 1), ("INV-4", "999.00", 1)])
    right = payments([("PAY-1", "1246.50")])
    reason, group = closest_groups(left, right, invoice_rules())["PAY-1"]
    assert reason == "no_group"
    assert group["for_id"] == "PAY-1"
    assert group["ids"] == ["INV-1", "INV-2", "INV-3"]
    assert (group["sum"], group["amount"], group["difference"]) == ("1234.50", "1246.50", 12.0)
    assert (
        group["detail"] == "closest group: 3 records summing to 1234.50, amount off by 12.00 (0.96 %), tolerance 0.01"
    )
    assert [(c["name"], c["left"], c["right"], c["passed"]) for c in group["comparisons"]] == [
        ("amount", "1234.50", "1246.50", False)
    ]


def test_the_closest_group_respects_the_group_size_bound() -> None:
    # INV-1..INV-4 sum to the payment exactly, but a group may hold at most 3 invoices.
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "500.00", 1), ("INV-3", "334.50", 1), ("INV-4", "12.00", 1)])
    right = payments([("PAY-1", "1246.50")])
    _, group = closest_groups(left, right, invoice_rules(max_size=3))["PAY-1"]
    assert group["ids"] == ["INV-1", "INV-2", "INV-3"] and group["difference"] == 12.0
    assert match(left, right, invoice_rules(max_size=4)).matched.height == 1


def test_the_closest_group_leaves_out_invoices_that_fail_a_member_filter() -> None:
    # INV-4 would close the gap exactly, but it is dated outside the five-day window.
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "500.00", 1), ("INV-3", "334.50", 1), ("INV-4", "12.00", 30)])
    right = payments([("PAY-1", "1246.50")])
    _, group = closest_groups(left, right, invoice_rules(max_size=4))["PAY-1"]
    assert group["ids"] == ["INV-1", "INV-2", "INV-3"] and group["difference"] == 12.0


def test_a_payment_with_too_few_candidates_says_no_group_was_possible() -> None:
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "12.00", 30)])
    right = payments([("PAY-1", "412.00")])
    reason, group = closest_groups(left, right, invoice_rules())["PAY-1"]
    assert reason == "no_group"
    assert (group["ids"], group["sum"], group["difference"], group["available"]) == ([], None, None, 1)
    assert group["detail"] == "no group possible: only 1 candidate(s) still available, a group needs 2 to 3"


def test_a_payment_whose_candidates_another_payment_took_says_none_was_left() -> None:
    left = invoices([("INV-1", "10.00", 1), ("INV-2", "20.00", 1)])
    right = payments([("PAY-1", "30.00"), ("PAY-2", "35.00")])
    outcome = match(left, right, invoice_rules())
    assert outcome.matched.select("left_ids", "right_ids").rows() == [(["INV-1", "INV-2"], ["PAY-1"])]
    reason, group = closest_groups(left, right, invoice_rules())["PAY-2"]
    assert reason == "no_group"
    assert group["ids"] == [] and group["available"] == 0
    assert group["detail"] == "no group possible: no candidate passing the member filters was still available"


def test_equally_close_groups_break_ties_by_fewest_members_then_smallest_ids_whatever_the_input_order() -> None:
    # 30 + 30 + 30 and 60 + 30 (three ways) all fall 10.00 short: the pair with the smallest ids wins.
    rows = [("INV-1", "30.00", 1), ("INV-2", "30.00", 1), ("INV-3", "30.00", 1), ("INV-4", "60.00", 1)]
    right = payments([("PAY-1", "100.00")])
    forward = closest_groups(invoices(rows), right, invoice_rules())
    backward = closest_groups(invoices(rows[::-1]), right, invoice_rules())
    assert forward["PAY-1"][1]["ids"] == ["INV-1", "INV-4"]
    assert forward == backward


def test_an_invoice_left_over_names_the_closest_group_of_its_nearest_payment() -> None:
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "500.00", 1), ("INV-3", "334.50", 1)])
    found = closest_groups(left, payments([("PAY-1", "1246.50")]), invoice_rules(), side="left")
    assert found["INV-2"][0] == "no_group"
    group = found["INV-2"][1]
    assert (group["for_id"], group["ids"], group["difference"]) == ("PAY-1", ["INV-1", "INV-2", "INV-3"], 12.0)
    assert group["detail"].startswith("for PAY-1: closest group: 3 records summing to 1234.50, amount off by 12.00")


def test_an_invoice_whose_nearest_payment_is_matched_says_so() -> None:
    left = invoices([("INV-1", "10.00", 1), ("INV-2", "20.00", 1), ("INV-3", "29.00", 1)])
    found = closest_groups(left, payments([("PAY-1", "30.00")]), invoice_rules(), side="left")
    group = found["INV-3"][1]
    assert (found["INV-3"][0], group["for_id"], group["ids"]) == ("no_group", "PAY-1", [])
    assert group["detail"] == "for PAY-1: no group, it is already matched"


def test_other_reasons_carry_no_closest_group() -> None:
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "500.00", 40)])
    right = payments([("PAY-1", "900.00")])
    found = closest_groups(left, right, invoice_rules())
    # The invoice nearest in amount fails the date window: that filter explains it, as before.
    assert found["PAY-1"] == ("filter_failed", None)


def test_no_group_and_other_reasons_of_one_pass_each_keep_their_own_explanation() -> None:
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "500.00", 1), ("INV-3", "334.50", 1), ("INV-9", "5000.00", 40)])
    right = payments([("PAY-1", "1246.50"), ("PAY-2", "9000.00")])
    found = closest_groups(left, right, invoice_rules())
    # PAY-2's nearest invoice in amount (INV-9) is dated outside the window: that filter explains it.
    assert found["PAY-2"] == ("filter_failed", None)
    assert found["PAY-1"][0] == "no_group" and found["PAY-1"][1]["for_id"] == "PAY-1"
    assert found["PAY-1"][1]["ids"] == ["INV-1", "INV-2", "INV-3"]
