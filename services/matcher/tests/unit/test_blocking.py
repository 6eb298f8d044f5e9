"""Candidate generation: range keys never lose a pair that passes the filters, on every code path;
oversized blocks are split without dropping records."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import day, records
from matcher.domain import blocking, match, rules_from_data
from matcher.domain.comparators import evaluate, prepare_pass
from matcher.domain.passes import EngineContext, blocking_plan
from matcher.domain.records import prepare_side

rows = st.lists(
    st.tuples(st.integers(-300, 300), st.integers(0, 20), st.sampled_from(["EUR", "USD"])), min_size=1, max_size=25
)
tolerances = st.one_of(
    st.integers(0, 40).map(lambda c: {"type": "numeric_tolerance", "absolute": str(c / 100)}),
    st.integers(0, 3000).map(lambda p: {"type": "numeric_tolerance", "percent": str(p / 100)}),
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
