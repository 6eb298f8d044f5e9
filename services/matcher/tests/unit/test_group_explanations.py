"""A record a grouped pass left unmatched says how close the closest group came: which records, their
sum, the difference and the tolerance, or why no group was possible at all. Every `no_group` record
does, and so does any record on a grouped pass's single side that the pass tried, whatever its reason."""

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


def one_then_grouped_rules(*groups: tuple[str, int, int]) -> Any:
    """The common rule set: one invoice per payment first (wide date window), then invoice groups
    (`name`, min_size, max_size) dated within five days of the payment."""
    grouped = [
        {
            "name": name,
            "cardinality": "many_to_one",
            "blocking": [{"field": "counterparty"}],
            "comparisons": [AMOUNT, {"type": "date_window", "days": 5}],
            "group": {"min_size": min_size, "max_size": max_size},
        }
        for name, min_size, max_size in groups
    ]
    single = {
        "name": "single-invoice",
        "cardinality": "one_to_one",
        "blocking": [{"field": "counterparty"}],
        "comparisons": [AMOUNT, {"type": "date_window", "days": 60}],
    }
    return rules_from_data({"passes": [single, *grouped]})


def invoices(rows: list[tuple[str, str, int]], counterparty: str = "ACME") -> pl.DataFrame:
    return records(
        [
            {"record_id": rid, "amount": amount, "value_date": day(d), "counterparty": counterparty}
            for rid, amount, d in rows
        ]
    )


def payments(rows: list[tuple[str, str]], counterparty: str = "ACME") -> pl.DataFrame:
    return records(
        [
            {"record_id": rid, "amount": amount, "value_date": day(1), "counterparty": counterparty}
            for rid, amount in rows
        ]
    )


def explanations(outcome: Any, side: str) -> dict[str, Any]:
    explained = outcome.explain_unmatched(side)
    return {row["record_id"]: json.loads(row["explanation"]) for row in explained.iter_rows(named=True)}


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


def test_a_payment_failing_a_filter_also_says_why_the_grouped_pass_found_no_group() -> None:
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "500.00", 40)])
    right = payments([("PAY-1", "900.00")])
    reason, group = closest_groups(left, right, invoice_rules())["PAY-1"]
    # The invoice nearest in amount fails the date window: that filter still explains it...
    assert reason == "filter_failed"
    # ...and the pass that tried it says it had only the one invoice inside the window.
    assert (group["pass"], group["ids"], group["available"]) == ("invoices", [], 1)
    assert group["detail"] == "no group possible: only 1 candidate(s) still available, a group needs 2 to 3"


def test_no_group_and_other_reasons_of_one_pass_each_keep_their_own_explanation() -> None:
    left = invoices([("INV-1", "400.00", 1), ("INV-2", "500.00", 1), ("INV-3", "334.50", 1), ("INV-9", "5000.00", 40)])
    right = payments([("PAY-1", "1246.50"), ("PAY-2", "9000.00")])
    found = closest_groups(left, right, invoice_rules())
    # PAY-2's nearest invoice in amount (INV-9) is dated outside the window: that filter explains it,
    # and the closest group is what the window left it.
    assert found["PAY-2"][0] == "filter_failed"
    assert (found["PAY-2"][1]["ids"], found["PAY-2"][1]["sum"]) == (["INV-1", "INV-2", "INV-3"], "1234.50")
    assert found["PAY-1"][0] == "no_group" and found["PAY-1"][1]["for_id"] == "PAY-1"
    assert found["PAY-1"][1]["ids"] == ["INV-1", "INV-2", "INV-3"]


# A payment of 1000.00: no single invoice is near it, but INV-1 + INV-2 fall 0.50 short.
SHORT_PAIR = [("INV-1", "400.00", 1), ("INV-2", "599.50", 1), ("INV-3", "850.00", 1)]


def test_a_payment_failing_the_one_to_one_pass_names_the_closest_group_of_the_grouped_pass() -> None:
    left, right = invoices(SHORT_PAIR), payments([("PAY-1", "1000.00")])
    outcome = match(left, right, one_then_grouped_rules(("invoice-group", 2, 5)))
    explanation = explanations(outcome, "right")["PAY-1"]
    group = explanation.pop("closest_group")
    assert (group["pass"], group["for_id"], group["ids"]) == ("invoice-group", "PAY-1", ["INV-1", "INV-2"])
    assert (group["sum"], group["amount"], group["difference"], group["available"]) == ("999.50", "1000.00", 0.5, 3)
    assert group["detail"] == "closest group: 2 records summing to 999.50, amount off by 0.50 (0.05 %), tolerance 0.01"
    # The reason and nearest candidate still come from the one-to-one pass, exactly as without it.
    alone = match(left, right, one_then_grouped_rules())
    assert outcome.unmatched_right.row(0)[:4] == ("PAY-1", "filter_failed", "INV-3", "single-invoice")
    assert outcome.unmatched_right.equals(alone.unmatched_right)
    assert explanation == explanations(alone, "right")["PAY-1"]
    assert explanation["reason"] == "filter_failed" and explanation["nearest"][0]["id"] == "INV-3"


def test_invoices_on_the_many_side_keep_their_explanation_without_a_closest_group() -> None:
    outcome = match(invoices(SHORT_PAIR), payments([("PAY-1", "1000.00")]), one_then_grouped_rules(("g", 2, 5)))
    found = explanations(outcome, "left")
    assert {rid: e["reason"] for rid, e in found.items()} == dict.fromkeys(["INV-1", "INV-2", "INV-3"], "filter_failed")
    assert not any("closest_group" in e for e in found.values())


def test_a_payment_the_grouped_pass_never_tried_gets_no_closest_group() -> None:
    # PAY-2's only invoice is dated outside the grouped pass's window: that pass never had it as a
    # candidate, so it has nothing to say; the one-to-one pass (60 days) still names INV-9.
    left = pl.concat([invoices(SHORT_PAIR), invoices([("INV-9", "50.00", 30)], counterparty="OTHER")])
    right = pl.concat([payments([("PAY-1", "1000.00")]), payments([("PAY-2", "100.00")], counterparty="OTHER")])
    found = explanations(match(left, right, one_then_grouped_rules(("invoice-group", 2, 5))), "right")
    assert (found["PAY-2"]["reason"], found["PAY-2"]["nearest"][0]["id"]) == ("filter_failed", "INV-9")
    assert "closest_group" not in found["PAY-2"]
    assert found["PAY-1"]["closest_group"]["ids"] == ["INV-1", "INV-2"]


def test_a_payment_several_grouped_passes_left_out_names_the_first_of_them() -> None:
    left, right = invoices(SHORT_PAIR), payments([("PAY-1", "1000.00")])
    pairs_first = match(left, right, one_then_grouped_rules(("pairs", 2, 2), ("triples", 3, 3)))
    group = explanations(pairs_first, "right")["PAY-1"]["closest_group"]
    assert (group["pass"], group["ids"], group["difference"]) == ("pairs", ["INV-1", "INV-2"], 0.5)
    # The rule order decides, not which group is closer.
    triples_first = match(left, right, one_then_grouped_rules(("triples", 3, 3), ("pairs", 2, 2)))
    group = explanations(triples_first, "right")["PAY-1"]["closest_group"]
    assert (group["pass"], group["ids"], group["difference"]) == ("triples", ["INV-1", "INV-2", "INV-3"], 849.5)


def test_the_closest_group_is_the_same_whatever_the_input_order_and_the_records_explained_together() -> None:
    rules = one_then_grouped_rules(("pairs", 2, 2), ("triples", 3, 3))
    rows = [*SHORT_PAIR, ("INV-4", "300.00", 2), ("INV-5", "700.50", 2)]
    pays = [("PAY-1", "1000.00"), ("PAY-2", "1301.00"), ("PAY-3", "2.00")]
    forward = match(invoices(rows), payments(pays), rules)
    backward = match(invoices(rows[::-1]), payments(pays[::-1]), rules)
    assert explanations(forward, "right")["PAY-1"]["closest_group"]["pass"] == "pairs"
    assert explanations(forward, "right") == explanations(backward, "right")
    assert explanations(forward, "left") == explanations(backward, "left")
    every = forward.explain_unmatched("right")
    for record in every.iter_rows(named=True):
        one = forward.explain_unmatched("right", every.filter(pl.col("record_id") == record["record_id"]))
        assert one["explanation"].to_list() == [record["explanation"]]
