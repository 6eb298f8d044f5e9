"""Candidate generation: range keys never lose a pair that passes the filters, on every code path;
oversized blocks are split without dropping records; hot records are re-blocked by shared words."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import day, records
from matcher.domain import MatchOutcome, blocking, match, rules_from_data
from matcher.domain.comparators import evaluate, prepare_pass
from matcher.domain.passes import EngineContext, blocking_plan
from matcher.domain.records import prepare_side

rows = st.lists(
    st.tuples(st.integers(-300, 300), st.integers(0, 20), st.sampled_from(["EUR", "USD"])), min_size=1, max_size=25
)
tolerances = st.one_of(
    st.integers(0, 40).map(lambda c: {"type": "numeric_tolerance", "absolute": str(c / 100)}),
    st.integers(0, 3000).map(lambda p: {"type": "numeric_tolerance", "percent": str(p / 100)}),
    st.tuples(st.integers(0, 40), st.integers(0, 3000)).map(
        lambda t: {"type": "numeric_tolerance", "absolute": str(t[0] / 100), "percent": str(t[1] / 100)}
    ),
)
windows = st.tuples(st.integers(0, 12), st.sampled_from(["either", "left_before_right", "right_before_left"]))


def side(data: list[tuple[int, int, str]], prefix: str) -> object:
    return records(
        [
            {"record_id": f"{prefix}{i:03d}", "amount": f"{cents / 100:.2f}", "value_date": day(d), "currency": ccy}
            for i, (cents, d, ccy) in enumerate(data)
        ]
    )


@pytest.mark.parametrize("path", ["direct", "range+pairs", "range+dense"])
@given(left=rows, right=rows, amount=tolerances, window=windows)
@settings(max_examples=40, deadline=None)
def test_generated_candidates_contain_every_pair_that_passes_the_filters(
    path: str, left: list[tuple[int, int, str]], right: list[tuple[int, int, str]],
    amount: dict[str, str], window: tuple[int, str],
) -> None:  # fmt: skip
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "p",
                    "blocking": [{"field": "currency"}],
                    "comparisons": [amount, {"type": "date_window", "days": window[0], "direction": window[1]}],
                }
            ]
        }
    )
    ctx = EngineContext(prepare_side(side(left, "L"), "left"), prepare_side(side(right, "R"), "right"), workers=1)
    comps = prepare_pass(rules.passes[0], ctx.left, ctx.right, {})
    plan = blocking_plan(ctx, rules.passes[0], comps, exclude_sums=False)
    direct = {"direct": 10**9, "range+pairs": 0, "range+dense": 0}[path]
    plan = dataclasses.replace(plan, dense_min_pairs={"direct": 10**9, "range+pairs": 10**9, "range+dense": 1}[path])
    original = blocking.DIRECT_JOIN_MAX_PAIRS
    blocking.DIRECT_JOIN_MAX_PAIRS = direct
    try:
        cands = blocking.generate(plan, np.arange(ctx.left.height), np.arange(ctx.right.height))
    finally:
        blocking.DIRECT_JOIN_MAX_PAIRS = original
    li, ri = cands.pairs()
    generated = list(zip(li.tolist(), ri.tolist(), strict=True))
    for lrows, rrows in cands.dense_blocks:
        generated += [(a, b) for a in lrows.tolist() for b in rrows.tolist()]
    assert len(generated) == len(set(generated)), "a pair was generated twice"

    all_l = np.repeat(np.arange(ctx.left.height), ctx.right.height)
    all_r = np.tile(np.arange(ctx.right.height), ctx.left.height)
    ok = ctx.left.frame["currency"].to_numpy()[all_l] == ctx.right.frame["currency"].to_numpy()[all_r]
    for comp in comps:
        ok &= evaluate(comp, all_l, all_r).passed
    expected = set(zip(all_l[ok].tolist(), all_r[ok].tolist(), strict=True))
    assert expected <= set(generated)


def test_oversized_block_is_split_and_recorded_but_keeps_every_record() -> None:
    n = 1500
    left = records(
        [
            {
                "record_id": f"L{i:04d}",
                "amount": "10.00",
                "value_date": day(0),
                "currency": "EUR",
                "counterparty": f"customer {i:04d}",
            }
            for i in range(n)
        ]
    )
    right = records(
        [
            {
                "record_id": f"R{i:04d}",
                "amount": "10.00",
                "value_date": day(0),
                "currency": "EUR",
                "counterparty": f"customer {i:04d}",
            }
            for i in range(n)
        ]
    )
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "hot",
                    "blocking": [{"field": "currency"}],
                    "max_block_pairs": 10_000,
                    "hot_candidates": 0,  # the split, not the re-blocking by words, is under test
                    "comparisons": [
                        {"type": "numeric_tolerance", "absolute": "0.01"},
                        {"type": "fuzzy", "field": "counterparty", "threshold": 0.99},
                    ],
                    "auto_match_threshold": 1.0,
                }
            ]
        }
    )
    outcome = match(left, right, rules)
    stats = outcome.stats.passes[0]
    assert stats.oversized_blocks_split == 1
    assert stats.largest_block_pairs == n * n
    assert stats.candidates < n * n // 2  # windows, not the full cross product
    # Sorted-neighbourhood windows put each record next to its twin: everything still matches.
    assert outcome.matched.height == n
    assert Counter(i for ids in outcome.matched["right_ids"].to_list() for i in ids).most_common(1)[0][1] == 1


def _scrambled_twins(n: int, amount: Callable[[int], str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Left and right hold the same amounts, but record-id order pairs unrelated records."""
    left = records([{"record_id": f"L{i:04d}", "amount": amount(i), "currency": "EUR"} for i in range(n)])
    right = records([{"record_id": f"R{(i * 7919) % n:04d}", "amount": amount(i), "currency": "EUR"} for i in range(n)])
    return left, right


def test_oversized_block_without_text_is_split_along_its_amounts() -> None:
    # Within 1 % of each other, 1500 amounts fall into one or two log bands: an oversized block
    # with no text to sort by. Windows must follow the amounts, not the record ids.
    n = 1500
    left, right = _scrambled_twins(n, lambda i: f"{1000 + i / 100:.2f}")
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "amounts",
                    "blocking": [{"field": "currency"}],
                    "max_block_pairs": 10_000,
                    "comparisons": [{"type": "numeric_tolerance", "percent": "1", "mode": "score"}],
                    "auto_match_threshold": 0.99,
                    "review_threshold": 0.5,
                }
            ]
        }
    )
    outcome = match(left, right, rules)
    assert outcome.stats.passes[0].oversized_blocks_split >= 1
    assert outcome.stats.passes[0].candidates < n * n // 5  # windows, not the cross product
    pairs = outcome.matched.select(pl.col("left_ids").list.first(), pl.col("right_ids").list.first()).rows()
    amounts_left = dict(left.select("record_id", "amount").rows())
    amounts_right = dict(right.select("record_id", "amount").rows())
    assert len(pairs) == n
    assert all(amounts_left[a] == amounts_right[b] for a, b in pairs)


def test_absolute_and_percent_tolerance_together_narrow_the_block() -> None:
    # Either window admits the pair (0.05, or 0.1 % of the larger amount): blocking must cover both,
    # small amounts (where the absolute one is wider) and large ones alike.
    n = 1500
    left, right = _scrambled_twins(n, lambda i: f"{(i * 37) % 5000 + i / 1000:.2f}")
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "amounts",
                    "blocking": [{"field": "currency"}],
                    "comparisons": [
                        {"type": "numeric_tolerance", "absolute": "0.05", "percent": "0.1", "mode": "filter"}
                    ],
                }
            ]
        }
    )
    outcome = match(left, right, rules)
    assert outcome.stats.passes[0].oversized_blocks_split == 0
    assert outcome.stats.passes[0].candidates < 20 * n
    assert outcome.matched.height == n


def test_pass_without_any_key_still_never_cross_joins_a_big_side() -> None:
    n = 300
    left = records([{"record_id": f"L{i:04d}", "amount": f"{i}.00", "value_date": day(i % 30)} for i in range(n)])
    right = records([{"record_id": f"R{i:04d}", "amount": f"{i}.00", "value_date": day(i % 30 + 1)} for i in range(n)])
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "ranges-only",
                    "comparisons": [
                        {"type": "numeric_tolerance", "absolute": "0.5"},
                        {"type": "date_window", "days": 2},
                    ],
                }
            ]
        }
    )
    outcome = match(left, right, rules)
    assert outcome.matched.height == n
    assert outcome.stats.passes[0].candidates <= 3 * n


def _hot_block_rules(hot_candidates: int = 64) -> object:
    return rules_from_data(
        {
            "passes": [
                {
                    "name": "hot",
                    "blocking": [{"field": "currency"}],
                    "hot_candidates": hot_candidates,
                    "comparisons": [
                        {"type": "numeric_tolerance", "absolute": "0.01", "mode": "filter"},
                        {"type": "date_window", "days": 3, "mode": "filter"},
                        {"type": "fuzzy", "field": "counterparty", "algorithm": "jaro_winkler", "weight": 1.0},
                    ],
                    "auto_match_threshold": 0.9,
                    "review_threshold": 0.5,
                }
            ]
        }
    )


def _round_amount_sides(
    n: int, right_fields: Callable[[int], dict[str, str]],
    left_fields: Callable[[int], dict[str, str]] = lambda i: {"counterparty": f"Customer {i:04d} Ltd"},
) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    """n records per side, all 20.00 EUR within three days: one hot block of n x n pairs."""
    left = records([
        {"record_id": f"L{i:04d}", "amount": "20.00", "value_date": day(0), "currency": "EUR", **left_fields(i)}
        for i in range(n)
    ])  # fmt: skip
    right = records([
        {"record_id": f"R{i:04d}", "amount": "20.00", "value_date": day(i % 3), "currency": "EUR", **right_fields(i)}
        for i in range(n)
    ])  # fmt: skip
    return left, right


def _matched_pairs(outcome: MatchOutcome) -> dict[str, str]:
    """Left id -> right id of every one-to-one match."""
    return dict(zip(outcome.matched["left_ids"].list.first(), outcome.matched["right_ids"].list.first(), strict=True))


def test_hot_records_are_re_blocked_by_shared_rare_words_and_still_all_match() -> None:
    n = 700  # 490,000 pairs in one exact block: above the re-blocking threshold
    left, right = _round_amount_sides(n, lambda i: {"counterparty": f"CUSTOMER {i:04d} LIMITED"})
    outcome = match(left, right, _hot_block_rules())
    stats = outcome.stats.passes[0]
    assert stats.hot_left_records == n
    assert stats.hot_right_records == n
    # "customer" is in every record (a common word there): only the number links a pair.
    assert stats.candidates == n
    assert outcome.auto.height == n
    assert _matched_pairs(outcome) == {f"L{i:04d}": f"R{i:04d}" for i in range(n)}


def test_re_blocking_can_be_turned_off_and_then_every_pair_is_a_candidate() -> None:
    n = 700
    left, right = _round_amount_sides(n, lambda i: {"counterparty": f"CUSTOMER {i:04d} LIMITED"})
    stats = match(left, right, _hot_block_rules(hot_candidates=0)).stats.passes[0]
    assert stats.hot_left_records == 0
    assert stats.candidates == n * n


def test_a_block_below_the_re_blocking_threshold_compares_every_pair() -> None:
    # 300 x 300 = 90,000 pairs: scoring them all is cheap, so a typo sharing no word still meets its twin.
    n = 300
    left, right = _round_amount_sides(
        n, lambda i: {"counterparty": f"Custommer {i:04d}X Ltd" if i == 7 else f"Customer {i:04d} Ltd"}
    )
    outcome = match(left, right, _hot_block_rules())
    stats = outcome.stats.passes[0]
    assert stats.hot_left_records == 0
    assert stats.candidates == n * n
    matched = _matched_pairs(outcome)
    assert matched["L0007"] == "R0007"


def test_a_cold_record_keeps_every_candidate_and_hot_ones_meet_through_words_or_sort_order() -> None:
    n = 700
    left, right = _round_amount_sides(
        n, lambda i: {"counterparty": "CUSTOMR 0005X LIMITD" if i == 5 else f"CUSTOMER {i:04d} LIMITED"}
    )
    # In the same exact block, one pair at an amount nobody else has: both records are cold.
    cold_left = records(
        [
            {
                "record_id": "L9999",
                "amount": "35.00",
                "value_date": day(0),
                "currency": "EUR",
                "counterparty": "Jonathan Smyth",
            }
        ]  # fmt: skip
    )
    cold_right = records(
        [
            {
                "record_id": "R9999",
                "amount": "35.00",
                "value_date": day(1),
                "currency": "EUR",
                "counterparty": "Jonathon Smith",
            }
        ]  # fmt: skip
    )
    outcome = match(left.vstack(cold_left), right.vstack(cold_right), _hot_block_rules())
    matched = _matched_pairs(outcome)
    assert matched["L9999"] == "R9999"  # no shared word, compared anyway: neither record is hot
    # L0005 and its counterpart share no word and both have 700 candidates; sharing no rare word with
    # anyone, they meet their neighbours in text order, which includes each other.
    assert matched["L0005"] == "R0005"
    assert outcome.stats.passes[0].candidates <= (n - 1) + 1 + 4


def test_hot_records_whose_only_distinctive_word_has_a_typo_still_meet_their_twin() -> None:
    # Every word but the number is common ("inv", "ltd"), and the number differs by a typo: no rare
    # word is shared, but the two sort next to each other (NEIGHBOUR_WINDOW), so they are compared.
    n = 700
    left, right = _round_amount_sides(
        n,
        lambda i: {"reference": f"INV-{i:05d}", "counterparty": "Customer Ltd"},
        lambda i: {"reference": f"INV-{i:05d}X", "counterparty": "Customer Ltd"},
    )
    rules = rules_from_data(
        {
            "passes": [
                {
                    "name": "hot",
                    "blocking": [{"field": "currency"}],
                    "comparisons": [
                        {"type": "numeric_tolerance", "absolute": "0.01", "mode": "filter"},
                        {"type": "date_window", "days": 3, "mode": "filter"},
                        {"type": "fuzzy", "field": "reference", "algorithm": "jaro_winkler", "mode": "score"},
                    ],
                    "auto_match_threshold": 0.9,
                    "review_threshold": 0.5,
                }
            ]
        }
    )
    outcome = match(left, right, rules)
    stats = outcome.stats.passes[0]
    assert stats.hot_left_records == n
    assert stats.candidates < 4 * n  # sort neighbours, not the 490,000 pairs of the block
    matched = dict(zip(outcome.auto["left_ids"].list.first(), outcome.auto["right_ids"].list.first(), strict=True))
    assert matched == {f"L{i:04d}": f"R{i:04d}" for i in range(n)}
