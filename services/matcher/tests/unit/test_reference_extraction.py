"""`reference` comparisons use every reference a record names, in comparisons and in blocking."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import records
from matcher.domain import keys, match, rules_from_data
from matcher.domain.blocking import generate
from matcher.domain.comparators import Evaluated, evaluate, prepare_pass
from matcher.domain.passes import EngineContext, blocking_plan
from matcher.domain.records import prepare_side
from matcher.domain.references import MAX_REFERENCES
from matcher.domain.rule_parts import KeyExpr

INVOICE = r"(?i)inv[\s\-]*(\d+)"
AMOUNT = {"type": "numeric_tolerance", "absolute": "0.01"}


def _sides(left: dict[str, list[Any]], right: dict[str, list[Any]]) -> tuple[Any, Any]:
    def frame(columns: dict[str, list[Any]]) -> pl.DataFrame:
        n = len(next(iter(columns.values())))
        data = {"record_id": [f"{i:05d}" for i in range(n)], **columns}
        return pl.DataFrame(data, schema=dict.fromkeys(data, pl.Utf8))

    return prepare_side(frame(left), "left"), prepare_side(frame(right), "right")


def run(spec: dict[str, Any], left: dict[str, list[Any]], right: dict[str, list[Any]]) -> Evaluated:
    """Left row i against right row i."""
    pass_ = rules_from_data({"passes": [{"name": "p", "comparisons": [spec]}]}).passes[0]
    comp = prepare_pass(pass_, *_sides(left, right), {})[0]
    rows = np.arange(len(next(iter(left.values()))))
    return evaluate(comp, rows, rows)


def test_a_ledger_entry_meets_the_second_invoice_a_remittance_names() -> None:
    spec = {"type": "reference", "pattern": r"INV-\d{4}", "fields": ["description"]}
    ev = run(
        spec,
        {"description": ["PAYMENT INV-0042 INV-0043 ACME", "PAYMENT INV-0042 INV-0043 ACME", "INV-0042"]},
        {"description": ["INV-0043", "INV-0044", "INV-0043"]},
    )
    assert ev.passed.tolist() == [True, False, False]
    assert ev.similarity.tolist() == [1.0, 0.0, 0.0]


def test_references_on_both_sides_pass_when_any_pair_of_them_is_equal() -> None:
    spec = {"type": "reference", "pattern": r"INV-\d+", "fields": ["description"]}
    ev = run(
        spec, {"description": ["INV-1 INV-2 INV-3", "INV-1 INV-2"]}, {"description": ["INV-9 INV-3", "INV-3 INV-4"]}
    )
    assert ev.passed.tolist() == [True, False]


def test_every_listed_field_contributes_its_references_in_order() -> None:
    spec = {"type": "reference", "pattern": INVOICE, "fields": ["reference", "description"], "numeric": True}
    ev = run(
        spec,
        {"reference": ["INV-0042", "INV-0042"], "description": ["also inv 43", None]},
        {"reference": ["inv 43", "inv 43"], "description": [None, None]},
    )
    assert ev.passed.tolist() == [True, False]


def test_numeric_references_compare_as_numbers_after_the_first() -> None:
    spec = {"type": "reference", "pattern": INVOICE, "fields": ["description"], "numeric": True}
    ev = run(
        spec,
        {"description": ["paid INV-0042, INV-0043", "paid INV-0042, INV-0043"]},
        {"description": ["Inv 43", "Inv 430"]},
    )
    assert ev.passed.tolist() == [True, False]


def test_a_record_without_any_reference_is_missing_whatever_the_other_side_names() -> None:
    spec: dict[str, Any] = {"type": "reference", "pattern": r"INV-\d+", "fields": ["description"]}
    left = {"description": ["no invoice here", None, "INV-1 INV-2"]}
    right = {"description": ["INV-1 INV-2", "INV-1 INV-2", "nothing"]}
    ev = run(spec, left, right)
    assert ev.valid.tolist() == [False, False, False]
    assert ev.passed.tolist() == [False, False, False]
    assert run({**spec, "missing": "ignore"}, left, right).passed.tolist() == [True, True, True]


def test_references_beyond_the_cap_are_ignored_and_repeats_do_not_use_it_up() -> None:
    spec = {"type": "reference", "pattern": INVOICE, "fields": ["description"], "numeric": True}
    # "INV-01" repeats "INV-1" after normalisation: it does not take a place among the eight.
    text = "INV-1 INV-01 " + " ".join(f"INV-{n}" for n in range(2, MAX_REFERENCES + 2))
    last_kept, first_dropped = str(MAX_REFERENCES), str(MAX_REFERENCES + 1)
    ev = run(spec, {"description": [text, text]}, {"description": [f"inv {last_kept}", f"inv {first_dropped}"]})
    assert ev.passed.tolist() == [True, False]


def test_records_whose_references_pass_the_cap_are_counted_in_each_pass_that_compares_them() -> None:
    many = " ".join(f"INV-{n}" for n in range(1, MAX_REFERENCES + 2))  # one more than is kept
    rules = rules_from_data({"passes": [
        {"name": "exact", "blocking": [{"field": "external_id"}], "comparisons": [AMOUNT]},
        {"name": "by-reference", "comparisons": [
            {"type": "reference", "pattern": INVOICE, "fields": ["description"], "numeric": True}, AMOUNT]},
    ]})  # fmt: skip
    left = records([
        {"record_id": "B1", "external_id": "X1", "amount": "50.00", "description": many},  # matched by pass 1
        {"record_id": "B2", "external_id": "X2", "amount": "60.00", "description": many},
        {"record_id": "B3", "external_id": "X3", "amount": "70.00", "description": "INV-5"},
    ])
    right = records([
        {"record_id": "L1", "external_id": "X1", "amount": "50.00", "description": many},
        {"record_id": "L2", "external_id": "Y2", "amount": "60.00", "description": f"INV-{MAX_REFERENCES + 1}"},
    ])
    stats = match(left, right, rules).stats.to_dict()
    counted = [(p["references_capped_left"], p["references_capped_right"]) for p in stats["passes"]]
    # Pass 1 compares no references; pass 2 sees B2 (B1 and L1 are matched by then) and no capped right one.
    assert counted == [(0, 0), (1, 0)]
    assert stats["matched_left"] == 1, "B2 and L2 share only a reference past the cap"


def test_the_explanation_shows_every_reference_found() -> None:
    rules = rules_from_data(
        {"passes": [{"name": "p", "comparisons": [
            {"type": "reference", "pattern": INVOICE, "fields": ["description"], "numeric": True}, AMOUNT]}]}
    )  # fmt: skip
    left = records([{"record_id": "B1", "amount": "50.00", "description": "PAYMENT INV-0042 INV-0043 ACME"}])
    right = records([{"record_id": "L1", "amount": "50.00", "description": "INV-0043"}])
    outcome = match(left, right, rules)
    assert outcome.matched["left_ids"].to_list() == [["B1"]]
    explanation = outcome.explain_matches()["explanation"][0]
    assert '"left":"42, 43","right":"43"' in explanation


_REFERENCE_FILTER = {"type": "reference", "pattern": INVOICE, "fields": ["description"], "numeric": True}


def _reference_pass(**extra: Any) -> dict[str, Any]:
    return {"name": "p", "comparisons": [_REFERENCE_FILTER, AMOUNT], **extra}


def test_a_reference_filter_blocks_on_every_reference_of_a_record() -> None:
    """The filter is a derived block key; each of a record's references must key a block."""
    left = records([
        {"record_id": "B1", "amount": "50.00", "currency": "EUR", "description": "PAYMENT INV-0042 INV-0043"},
        {"record_id": "B2", "amount": "70.00", "currency": "EUR", "description": "INV-0050"},
    ])  # fmt: skip
    right = records([
        {"record_id": "L1", "amount": "50.00", "currency": "EUR", "description": "invoice INV-0043"},
        {"record_id": "L2", "amount": "70.00", "currency": "EUR", "description": "INV-0049, INV-0050"},
    ])  # fmt: skip
    for extra in ({}, {"blocking": [{"field": "currency"}]}):
        outcome = match(left, right, rules_from_data({"passes": [_reference_pass(**extra)]}))
        pairs = sorted(zip(outcome.matched["left_ids"].to_list(), outcome.matched["right_ids"].to_list(), strict=True))
        assert pairs == [(["B1"], ["L1"]), (["B2"], ["L2"])]
        assert outcome.unmatched_left.height == 0


def test_the_other_block_keys_still_apply_to_a_record_blocked_on_a_later_reference() -> None:
    left = records([{"record_id": "B1", "amount": "50.00", "currency": "EUR", "description": "INV-0042 INV-0043"}])
    right = records([{"record_id": "L1", "amount": "50.00", "currency": "USD", "description": "INV-0043"}])
    rules = rules_from_data({"passes": [_reference_pass(blocking=[{"field": "currency"}])]})
    assert match(left, right, rules).matched.height == 0


def test_two_multi_reference_filters_in_one_pass_lose_no_pair() -> None:
    """Only the first is exploded into slot keys; the second still filters every candidate."""
    order = {"type": "reference", "name": "order", "pattern": r"PO-\d+", "fields": ["description"]}
    rules = rules_from_data({"passes": [_reference_pass(comparisons=[_REFERENCE_FILTER, order, AMOUNT])]})
    left = records([{"record_id": "B1", "amount": "50.00", "description": "INV-0042 INV-0043 PO-1 PO-2"}])
    right = records([
        {"record_id": "L1", "amount": "50.00", "description": "INV-0043 for PO-2"},
        {"record_id": "L2", "amount": "50.00", "description": "INV-0043 for PO-3"},
    ])  # fmt: skip
    assert match(left, right, rules).matched["right_ids"].to_list() == [["L1"]]


def test_one_payment_naming_two_invoices_settles_both_in_a_grouped_pass() -> None:
    left = records([{"record_id": "B1", "amount": "50.00", "description": "PAYMENT INV-0042 INV-0043 ACME"}])
    right = records([
        {"record_id": "L1", "amount": "30.00", "description": "INV-0042"},
        {"record_id": "L2", "amount": "20.00", "description": "INV-0043"},
        {"record_id": "L3", "amount": "20.00", "description": "INV-0044"},
    ])  # fmt: skip
    rules = rules_from_data(
        {"passes": [_reference_pass(cardinality="one_to_many", group={"max_size": 3, "min_size": 2})]}
    )
    outcome = match(left, right, rules)
    assert [sorted(ids) for ids in outcome.matched["right_ids"].to_list()] == [["L1", "L2"]]


def test_a_key_expression_extract_stays_on_the_first_match() -> None:
    """Documented: a blocking key is one value per record; use a reference filter for all of them."""
    key = KeyExpr(field="description", extract=r"INV-\d+")
    out = keys.key_series(pl.Series(["INV-1 INV-2", "x", None]), key)
    assert out.to_list() == ["INV-1", None, None]


# --- property: evaluation and blocking against plain Python -------------------------------------

_REFERENCE = st.integers(min_value=0, max_value=12)
_TEXT = st.lists(_REFERENCE, max_size=MAX_REFERENCES + 3).map(lambda ns: " ".join(f"ref INV-{n:03d} x" for n in ns))


def _plain_references(texts: list[str | None]) -> list[int]:
    """The first MAX_REFERENCES distinct invoice numbers, fields and matches in order (as a list)."""
    found: list[int] = []
    for text in texts:
        for number in re.findall(r"INV-(\d+)", text or ""):
            if int(number) not in found:
                found.append(int(number))
    return found[:MAX_REFERENCES]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(_TEXT, st.one_of(st.none(), _TEXT)), min_size=1, max_size=8),
    st.lists(st.tuples(_TEXT, st.one_of(st.none(), _TEXT)), min_size=1, max_size=8),
    st.booleans(),
)
def test_evaluation_and_blocking_agree_with_a_plain_python_model(
    left_texts: list[tuple[str, str | None]], right_texts: list[tuple[str, str | None]], with_key: bool
) -> None:
    spec = {"type": "reference", "pattern": r"INV-(\d+)", "fields": ["reference", "description"], "numeric": True}
    blocking = [{"field": "currency"}] if with_key else []
    pass_ = rules_from_data({"passes": [{"name": "p", "blocking": blocking, "comparisons": [spec]}]}).passes[0]
    lcur = ["EUR" if i % 3 else "USD" for i in range(len(left_texts))]
    rcur = ["EUR" if i % 2 else "USD" for i in range(len(right_texts))]
    left, right = _sides(
        {"reference": [t[0] for t in left_texts], "description": [t[1] for t in left_texts], "currency": lcur},
        {"reference": [t[0] for t in right_texts], "description": [t[1] for t in right_texts], "currency": rcur},
    )
    comp = prepare_pass(pass_, left, right, {})[0]
    li = np.repeat(np.arange(len(left_texts)), len(right_texts))
    ri = np.tile(np.arange(len(right_texts)), len(left_texts))
    expected = [
        bool(set(_plain_references(list(left_texts[i]))) & set(_plain_references(list(right_texts[j]))))
        and (not with_key or lcur[i] == rcur[j])
        for i, j in zip(li.tolist(), ri.tolist(), strict=True)
    ]
    passed = evaluate(comp, li, ri).passed
    if with_key:
        passed = passed & (np.array(lcur)[li] == np.array(rcur)[ri])
    assert passed.tolist() == expected

    ctx = EngineContext(left=left, right=right, workers=1)
    plan = blocking_plan(ctx, pass_, [comp], exclude_sums=False)
    cands = generate(plan, np.arange(len(left_texts)), np.arange(len(right_texts)))
    found = set(zip(*(a.tolist() for a in cands.pairs()), strict=True))
    for lrows, rrows in cands.dense_blocks + cands.split_blocks:
        found |= {(lr, rr) for lr in lrows.tolist() for rr in rrows.tolist()}
    truly = {(i, j) for i, j, ok in zip(li.tolist(), ri.tolist(), expected, strict=True) if ok}
    assert truly <= found
    assert len(cands.pairs()[0]) == len(set(zip(*(a.tolist() for a in cands.pairs()), strict=True)))
