"""The engine end to end on small inputs: passes, exclusivity, review routing, groups, errors."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter

import polars as pl
import pytest
from synthetic import Scenario, generate

from conftest import day, records
from matcher.cli import ProgressBar
from matcher.domain import InputError, MatchOutcome, engine, match, nearest, rules_from_data, scoring

AMOUNT = {"type": "numeric_tolerance", "absolute": "0.01"}
DATE = {"type": "date_window", "days": 3}
TWO_PASSES = {
    "passes": [
        {
            "name": "exact",
            "blocking": [{"field": "currency"}, {"field": "reference", "normalise": {"whitespace": "remove"}}],
            "comparisons": [AMOUNT, DATE],
            "auto_match_threshold": 1.0,
        },
        {
            "name": "fuzzy",
            "blocking": [{"field": "currency"}],
            "comparisons": [
                AMOUNT,
                DATE,
                {"type": "fuzzy", "field": "reference", "mode": "score", "weight": 2},
                {"type": "fuzzy", "field": "counterparty", "algorithm": "token_set", "mode": "score"},
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
                AMOUNT,
                DATE,
                {"type": "fuzzy", "field": "counterparty", "algorithm": "token_set", "threshold": 0.6},
            ],
            "group": {"max_size": 4},
            "auto_match_threshold": 0.9,
            "review_threshold": 0.5,
        },
    ]
}


def member_ids(outcome: MatchOutcome, side: str) -> list[str]:
    return [i for ids in outcome.matched[f"{side}_ids"].to_list() for i in ids]


@pytest.fixture(scope="module")
def messy() -> tuple[pl.DataFrame, pl.DataFrame]:
    scenario = Scenario(
        typo=0.2, transposition=0.1, bank_prefix=0.2, truncation=0.1, splits=0.05, duplicates=0.03, hot_share=0.3
    )
    data = generate(3000, scenario, seed=11)
    return data.bank, data.ledger


def test_no_record_is_in_two_matches_across_passes(messy: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    outcome = match(*messy, rules_from_data(TWO_PASSES))
    for side in ("left", "right"):
        counts = Counter(member_ids(outcome, side))
        assert max(counts.values()) == 1
        unmatched = set((outcome.unmatched_left if side == "left" else outcome.unmatched_right)["record_id"])
        assert unmatched.isdisjoint(counts)
        total = messy[0].height if side == "left" else messy[1].height
        assert len(counts) + len(unmatched) == total  # every record accounted for exactly once


def test_same_input_twice_and_shuffled_gives_identical_output(messy: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    rules = rules_from_data(TWO_PASSES)
    first = match(*messy, rules)
    again = match(*messy, rules)
    shuffled = match(
        messy[0].sample(fraction=1.0, shuffle=True, seed=1), messy[1].sample(fraction=1.0, shuffle=True, seed=2), rules
    )
    for other in (again, shuffled):
        assert first.matched.equals(other.matched)
        assert first.explain_matches().equals(other.explain_matches())
        for side in ("left", "right"):
            assert first.explain_unmatched(side).equals(other.explain_unmatched(side))


def test_explaining_a_batch_gives_the_rows_of_the_full_rendering(messy: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    outcome = match(*messy, rules_from_data(TWO_PASSES))
    full = outcome.explain_matches()
    batch = outcome.matched.sample(n=50, seed=3)
    assert outcome.explain_matches(batch).equals(
        full.join(batch.select("match_id"), on="match_id", how="semi").sort(
            pl.col("match_id").replace_strict(batch["match_id"], range(50))
        )
    )
    unmatched = outcome.explain_unmatched("right")
    assert outcome.explain_unmatched("right", unmatched.tail(5)).equals(unmatched.tail(5))
    assert all(json.loads(e)["reason"] == r for e, r in unmatched.select("explanation", "reason").rows())


def test_scoring_on_several_threads_gives_the_single_threaded_output(
    messy: tuple[pl.DataFrame, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = rules_from_data(TWO_PASSES)
    single = match(*messy, rules, workers=1)
    monkeypatch.setattr(scoring, "_THREAD_CHUNK", 97)  # many small tasks, finishing out of order
    threaded = match(*messy, rules, workers=2)
    assert single.matched.equals(threaded.matched)
    for side in ("left", "right"):
        assert single.explain_unmatched(side).equals(threaded.explain_unmatched(side))


def test_the_early_nearest_search_is_used_and_equals_the_late_one(
    messy: tuple[pl.DataFrame, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    one_to_one_last = {"passes": TWO_PASSES["passes"][:2]}  # the early search needs a one-to-one last pass
    rules = rules_from_data(one_to_one_last)
    searches: list[str] = []
    search = nearest.search

    def observed(*args: object, **kwargs: object) -> nearest.Fallback:
        searches.append(threading.current_thread().name)
        return search(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(nearest, "search", observed)
    early = match(*messy, rules)
    assert searches and all(name.startswith("nearest-search") for name in searches)

    monkeypatch.setattr(engine, "start_nearest_search", lambda *args, **kwargs: None)
    searches.clear()
    late = match(*messy, rules)
    assert searches and not any(name.startswith("nearest-search") for name in searches)
    for side in ("left", "right"):
        assert early.explain_unmatched(side).equals(late.explain_unmatched(side))


def test_identical_candidates_go_to_review_not_auto() -> None:
    left = records(
        [{"record_id": "B1", "amount": "49.00", "currency": "EUR", "value_date": day(3), "reference": "SUB"}]
    )
    right = records(
        [
            {"record_id": "L1", "amount": "49.00", "currency": "EUR", "value_date": day(3), "reference": "SUB"},
            {"record_id": "L2", "amount": "49.00", "currency": "EUR", "value_date": day(3), "reference": "SUB"},
        ]
    )
    outcome = match(left, right, rules_from_data(TWO_PASSES))
    row = outcome.explain_matches().row(0, named=True)
    assert (row["status"], row["reason"], row["right_ids"]) == ("review", "ambiguous", ["L1"])
    explanation = json.loads(row["explanation"])
    assert explanation["runner_up"] == {"left_id": None, "right_id": "L2", "score": 1.0}
    assert outcome.unmatched_right.row(0, named=True)["reason"] == "taken"


def test_match_explanation_carries_every_comparison() -> None:
    left = records(
        [
            {
                "record_id": "B1",
                "amount": "10.00",
                "currency": "EUR",
                "value_date": day(1),
                "reference": "INV 7",
                "counterparty": "ACME LTD",
            }
        ]
    )
    right = records(
        [
            {
                "record_id": "L1",
                "amount": "10.00",
                "currency": "EUR",
                "value_date": day(2),
                "reference": "INV-8",
                "counterparty": "Acme Ltd",
            }
        ]
    )
    outcome = match(left, right, rules_from_data(TWO_PASSES))
    explanation = json.loads(outcome.explain_matches()["explanation"][0])
    assert [c["name"] for c in explanation["comparisons"]] == ["amount", "value_date", "reference", "counterparty"]
    by_name = {c["name"]: c for c in explanation["comparisons"]}
    assert by_name["amount"]["left"] == "10.00" and by_name["value_date"]["difference"] == 1.0
    assert by_name["counterparty"]["similarity"] == 1.0
    assert sum(c["contribution"] for c in explanation["comparisons"]) == pytest.approx(explanation["score"], abs=1e-5)


def test_one_to_many_subset_sum_within_tolerance_and_exclusive() -> None:
    rules = rules_from_data({"passes": [TWO_PASSES["passes"][2]]})
    left = records(
        [
            {"record_id": "P1", "amount": "300.00", "currency": "EUR", "value_date": day(5), "counterparty": "Acme"},
            {"record_id": "P2", "amount": "75.01", "currency": "EUR", "value_date": day(5), "counterparty": "Acme"},
        ]
    )
    right = records(
        [
            {"record_id": f"I{i}", "amount": a, "currency": "EUR", "value_date": day(4), "counterparty": "Acme"}
            for i, a in enumerate(["100.00", "200.00", "50.00", "25.00", "999.00"])
        ]
    )
    outcome = match(left, right, rules)
    groups = {r["left_ids"][0]: r["right_ids"] for r in outcome.matched.iter_rows(named=True)}
    assert groups == {"P1": ["I0", "I1"], "P2": ["I2", "I3"]}
    amounts = dict(zip(right["record_id"], right["amount"], strict=True))
    for row in outcome.matched.iter_rows(named=True):
        paid = dict(zip(left["record_id"], left["amount"], strict=True))[row["left_ids"][0]]
        assert abs(sum(amounts[i] for i in row["right_ids"]) - paid) <= 0.01


def test_many_to_one_grouped_by_key() -> None:
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "by-order",
                    "cardinality": "many_to_one",
                    "blocking": [{"field": "currency"}],
                    "comparisons": [AMOUNT],
                    "group": {"by": [{"field": "reference"}]},
                    "auto_match_threshold": 1.0,
                }
            ]
        }
    )
    left = records(
        [
            {"record_id": "I1", "amount": "40.00", "currency": "EUR", "reference": "ORD-1"},
            {"record_id": "I2", "amount": "60.00", "currency": "EUR", "reference": "ORD-1"},
            {"record_id": "I3", "amount": "60.00", "currency": "EUR", "reference": "ORD-2"},
            {"record_id": "I4", "amount": "40.00", "currency": "EUR", "reference": "ORD-2"},
            {"record_id": "I5", "amount": "1.00", "currency": "EUR", "reference": "ORD-2"},
        ]
    )
    right = records([{"record_id": "P1", "amount": "100.00", "currency": "EUR", "reference": "x"}])
    outcome = match(left, right, rules)
    assert outcome.matched.select("left_ids", "right_ids", "kind").rows() == [(["I1", "I2"], ["P1"], "many_to_one")]


def test_equal_subsets_are_ambiguous() -> None:
    rules = rules_from_data({"passes": [TWO_PASSES["passes"][2]]})
    left = records(
        [{"record_id": "P1", "amount": "300.00", "currency": "EUR", "value_date": day(5), "counterparty": "Acme"}]
    )
    right = records(
        [
            {"record_id": f"I{i}", "amount": a, "currency": "EUR", "value_date": day(5), "counterparty": "Acme"}
            for i, a in enumerate(["100.00", "100.00", "200.00"])
        ]
    )
    row = match(left, right, rules).matched.row(0, named=True)
    assert (row["status"], row["reason"], row["right_ids"]) == ("review", "ambiguous", ["I0", "I2"])


def test_progress_is_monotonic_and_finishes() -> None:
    seen: list[float] = []
    left = records(
        [
            {
                "record_id": "a",
                "amount": "1.00",
                "currency": "EUR",
                "value_date": day(0),
                "reference": "r",
                "counterparty": "c",
            }
        ]
    )
    match(left, left, rules_from_data(TWO_PASSES), progress=lambda fraction, message: seen.append(fraction))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 4


def test_progress_moves_inside_a_pass_stage_by_stage() -> None:
    # One pass is most runs: the bar must not sit at 0 % until it ends.
    seen: list[tuple[float, str]] = []
    rows = [{"record_id": f"r{i}", "amount": f"{i}.00", "value_date": day(0), "currency": "EUR"} for i in range(50)]
    rules = rules_from_data(
        {"passes": [{"name": "only", "blocking": [{"field": "currency"}], "comparisons": [AMOUNT]}]}
    )
    match(records(rows), records(rows), rules, progress=lambda fraction, message: seen.append((fraction, message)))
    inside = [(f, m) for f, m in seen if 0 < f < 0.5]
    assert [m for _, m in inside] == [
        "pass 1/1: only: scoring 50 candidate pairs",
        "pass 1/1: only: assigning 50 scored pairs",
    ]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_progress_bar_draws_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream, enabled=True, width=10)
        bar(0.5, "pass 1/1: only: scoring")
        bar.close()
    assert terminal.getvalue().startswith("\r[#####.....]  50%")
    assert "pass 1/1: only: scoring" in terminal.getvalue() and terminal.getvalue().endswith("\n")
    assert pipe.getvalue() == ""


@pytest.mark.parametrize(
    ("left", "message"),
    [
        (
            pl.DataFrame({"record_id": ["a"], "amount": [1.5]}),
            "passes[p].comparisons[0]: column 'amount' must be an exact Decimal or integer (got Float64)",
        ),
        (records([{"record_id": "a", "amount": "1"}, {"record_id": "a", "amount": "2"}]), "record_id is not unique"),
        (records([{"record_id": None, "amount": "1"}]), "record_id value(s) are empty"),
        (records([{"amount": "1"}]), "no 'record_id' column"),
        (records([{"record_id": "a", "amount": "1"}]), "no column 'order_no' (needed by passes[p].comparisons[2])"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(left: pl.DataFrame, message: str) -> None:
    rules = rules_from_data(
        {"passes": [{"name": "p", "comparisons": [AMOUNT, DATE, {"type": "exact", "field": "order_no"}]}]}
    )
    right = records([{"record_id": "x", "amount": "1", "value_date": day(0), "order_no": "7"}])
    with pytest.raises(InputError) as caught:
        match(left, right, rules)
    assert message in caught.value.message


def test_empty_sides_give_empty_outcomes() -> None:
    empty = records(
        [
            {
                "record_id": "a",
                "amount": "1",
                "currency": "EUR",
                "value_date": day(0),
                "reference": "r",
                "counterparty": "c",
            }
        ]
    ).clear()
    outcome = match(empty, empty, rules_from_data(TWO_PASSES))
    assert outcome.matched.height == outcome.unmatched_left.height == outcome.unmatched_right.height == 0
