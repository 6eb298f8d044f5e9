"""A grouped search pass answers each record from its candidates free at its turn, whether the answer
was searched at that turn or ahead of it (grouping's look-ahead batches)."""

from __future__ import annotations

import random
from typing import Any

import polars as pl
import pytest

from conftest import day, records
from matcher.domain import grouping, match, rules_from_data

RULES = {
    "passes": [
        {
            "name": "invoice-group",
            "cardinality": "many_to_one",
            "blocking": [{"field": "currency"}, {"field": "counterparty"}],
            "comparisons": [{"type": "numeric_tolerance", "absolute": "0.01"}, {"type": "date_window", "days": 5}],
            # max_candidates 6 cuts the busiest payments' lists, so cut lists are checked too.
            "group": {"max_size": 3, "min_size": 2, "max_candidates": 6},
            "auto_match_threshold": 1.0,
            "review_threshold": 0.6,
        }
    ]
}


def contended() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Few counterparties, many payments each built from invoices their neighbours can also use."""
    rng = random.Random(7)
    invoices, payments = [], []
    for n in range(400):
        amount = rng.choice([10, 20, 25, 30, 40, 50, 60, 75])
        invoices.append({"record_id": f"I{n:04d}", "amount": f"{amount}.00", "currency": "EUR",
                         "value_date": day(rng.randrange(10)), "counterparty": f"C{n % 6}"})  # fmt: skip
    for n in range(150):
        members = rng.sample([i for i in invoices if i["counterparty"] == f"C{n % 6}"], rng.choice([2, 2, 3]))
        total = sum(int(m["amount"][:-3]) for m in members)
        payments.append({"record_id": f"P{n:04d}", "amount": f"{total}.00", "currency": "EUR",
                         "value_date": day(rng.randrange(10)), "counterparty": f"C{n % 6}"})  # fmt: skip
    return records(invoices), records(payments)


@pytest.mark.parametrize("lookahead", [2, 64])
def test_searching_ahead_gives_the_answers_of_searching_at_each_turn(
    monkeypatch: pytest.MonkeyPatch, lookahead: int
) -> None:
    left, right = contended()
    rules = rules_from_data(RULES)
    # A look-ahead of one searches a record whose earlier answer went stale alone, at its own turn.
    monkeypatch.setattr(grouping, "_LOOKAHEAD", 1)
    at_each_turn = match(left, right, rules, workers=1)
    monkeypatch.setattr(grouping, "_LOOKAHEAD", lookahead)
    batches: list[int] = []
    search = grouping._Spans.search

    def counted(self: grouping._Spans, *args: Any) -> Any:
        batches.append(len(args[0]))
        return search(self, *args)

    monkeypatch.setattr(grouping._Spans, "search", counted)
    ahead = match(left, right, rules, workers=1)
    assert len(batches) > 1 and max(batches[1:]) > 1  # some answers went stale, searched again in batches
    group_stats = at_each_turn.stats.passes[0]
    assert group_stats.group_search_truncated > 0
    assert at_each_turn.matched.height > 50
    assert ahead.matched.equals(at_each_turn.matched)
    assert ahead.unmatched_left.equals(at_each_turn.unmatched_left)
    assert ahead.unmatched_right.equals(at_each_turn.unmatched_right)
    assert ahead.explain_unmatched("right").equals(at_each_turn.explain_unmatched("right"))
    searched = (group_stats.groups_searched, group_stats.group_search_truncated)
    assert (ahead.stats.passes[0].groups_searched, ahead.stats.passes[0].group_search_truncated) == searched
