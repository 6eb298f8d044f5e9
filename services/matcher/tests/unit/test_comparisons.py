"""Every comparison type, unit and property tests, evaluated the way the engine does (in bulk)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import jellyfish
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import distance, fuzz

from conftest import AMOUNT, day
from matcher.domain import rules_from_data
from matcher.domain.comparators import Evaluated, evaluate, evaluate_block, prepare_pass
from matcher.domain.records import prepare_side

PROPERTY = settings(max_examples=60, deadline=None)


def run(spec: dict[str, Any], left: dict[str, list[Any]], right: dict[str, list[Any]]) -> Evaluated:
    """Evaluate one comparison on aligned pairs: left row i against right row i."""
    n = len(next(iter(left.values())))
    ids = [f"{i:05d}" for i in range(n)]
    lframe = _frame({"record_id": ids, **left})
    rframe = _frame({"record_id": ids, **right})
    pass_ = rules_from_data({"passes": [{"name": "p", "comparisons": [spec]}]}).passes[0]
    comp = prepare_pass(pass_, prepare_side(lframe, "left"), prepare_side(rframe, "right"), {})[0]
    rows = np.arange(n)
    return evaluate(comp, rows, rows)


def _frame(columns: dict[str, list[Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(columns)
    if "amount" in columns:
        values = [None if v is None else Decimal(str(v)) for v in columns["amount"]]
        frame = frame.with_columns(pl.Series("amount", values, dtype=AMOUNT))
    return frame


# --- exact and normalised ---------------------------------------------------------------------


def test_exact_compares_values_and_fails_on_missing() -> None:
    ev = run(
        {"type": "exact", "field": "reference"},
        {"reference": ["A1", "A1", None, "x"]},
        {"reference": ["A1", "a1", "A1", None]},
    )
    assert ev.passed.tolist() == [True, False, False, False]
    assert ev.similarity.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_missing_ignore_passes_a_filter() -> None:
    ev = run(
        {"type": "exact", "field": "reference", "missing": "ignore"},
        {"reference": [None, "b"]},
        {"reference": ["a", "c"]},
    )
    assert ev.passed.tolist() == [True, False]
    assert ev.valid.tolist() == [False, True]


@given(st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), min_size=1, max_size=20))
@PROPERTY
def test_exact_is_string_equality(pairs: list[tuple[str, str]]) -> None:
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    ev = run({"type": "exact", "field": "v"}, {"v": left}, {"v": right})
    assert ev.passed.tolist() == [a == b for a, b in pairs]
    swapped = run({"type": "exact", "field": "v"}, {"v": right}, {"v": left})
    assert swapped.passed.tolist() == ev.passed.tolist()


def test_normalised_ignores_case_punctuation_whitespace_and_applies_equivalences() -> None:
    spec = {
        "type": "normalised",
        "field": "name",
        "normalise": {"equivalences": {"ltd": ["limited", "ltd."]}, "leading_zeros": True},
    }
    ev = run(
        spec,
        {"name": ["ACME,  Ltd.", "Acme Limited", "INV 0042", "Acme"]},
        {"name": ["acme ltd", "acme ltd", "inv 42", "Acme Inc"]},
    )
    assert ev.passed.tolist() == [True, True, True, False]


@pytest.mark.parametrize("punctuation", [True, False])
def test_equivalences_rewrite_symbols_spaced_variants_and_chains(punctuation: bool) -> None:
    table = {"and": ["&"], "co ltd": ["company limited"], "company": ["co", "corp"], "corp": ["corporation"]}
    spec = {"type": "normalised", "field": "name", "normalise": {"equivalences": table, "punctuation": punctuation}}
    ev = run(
        spec,
        {"name": ["Smith & Sons", "Smith&Sons", "Company  Limited", "Acme Corporation", "co co", "Costco"]},
        {"name": ["smith and sons", "Smith and Sons", "co ltd", "ACME company", "company company", "Costcompany"]},
    )
    assert ev.passed.tolist() == [True, True, True, True, True, False]


def test_equivalence_variants_match_across_punctuation_when_it_is_normalised() -> None:
    spec = {"type": "normalised", "field": "name", "normalise": {"equivalences": {"co ltd": ["company limited"]}}}
    ev = run(spec, {"name": ["Company, Limited", "Company Limited."]}, {"name": ["co ltd", "co ltd"]})
    assert ev.passed.tolist() == [True, True]


def test_whitespace_remove_joins_reference_fragments() -> None:
    spec = {"type": "normalised", "field": "r", "normalise": {"whitespace": "remove"}}
    ev = run(spec, {"r": ["INV-2024 0042"]}, {"r": ["inv 2024-0042"]})
    assert ev.passed.tolist() == [True]


# --- numeric tolerance -------------------------------------------------------------------------

cents = st.integers(min_value=-(10**9), max_value=10**9)


@given(st.lists(st.tuples(cents, cents), min_size=1, max_size=30), st.integers(0, 500))
@PROPERTY
def test_absolute_tolerance_is_exact_decimal_arithmetic(pairs: list[tuple[int, int]], tol_cents: int) -> None:
    tolerance = Decimal(tol_cents) / 100
    left = [Decimal(a) / 100 for a, _ in pairs]
    right = [Decimal(b) / 100 for _, b in pairs]
    ev = run({"type": "numeric_tolerance", "absolute": str(tolerance)}, {"amount": left}, {"amount": right})
    assert ev.passed.tolist() == [abs(a - b) <= tolerance for a, b in zip(left, right, strict=True)]
    assert ((ev.similarity >= 0) & (ev.similarity <= 1)).all()
    assert [s == 1.0 for s in ev.similarity.tolist()] == [a == b for a, b in zip(left, right, strict=True)]


@given(
    st.lists(st.tuples(cents, cents), min_size=1, max_size=30),
    st.integers(0, 1000),
    st.sampled_from(["left", "right", "max", "min"]),
)
@PROPERTY
def test_percent_tolerance_uses_the_named_base_exactly(
    pairs: list[tuple[int, int]], hundredths: int, base: str
) -> None:
    percent = Decimal(hundredths) / 100
    left = [Decimal(a) / 100 for a, _ in pairs]
    right = [Decimal(b) / 100 for _, b in pairs]
    spec = {"type": "numeric_tolerance", "percent": str(percent), "percent_base": base}
    ev = run(spec, {"amount": left}, {"amount": right})
    bases = {
        "left": lambda a, b: abs(a),
        "right": lambda a, b: abs(b),
        "max": lambda a, b: max(abs(a), abs(b)),
        "min": lambda a, b: min(abs(a), abs(b)),
    }
    expected = [abs(a - b) * 100 <= percent * bases[base](a, b) for a, b in zip(left, right, strict=True)]
    assert ev.passed.tolist() == expected


def test_percent_boundary_is_inside_and_either_tolerance_admits() -> None:
    ev = run(
        {"type": "numeric_tolerance", "percent": "0.5", "percent_base": "left"},
        {"amount": ["100.00", "100.00"]},
        {"amount": ["100.50", "100.51"]},
    )
    assert ev.passed.tolist() == [True, False]
    both = run(
        {"type": "numeric_tolerance", "percent": "0.5", "absolute": "2"},
        {"amount": ["100.00", "1000.00"]},
        {"amount": ["101.90", "1004.90"]},
    )
    assert both.passed.tolist() == [True, True]


def test_amounts_at_different_scales_compare_exactly() -> None:
    left = pl.DataFrame(
        {"record_id": ["a"], "amount": [Decimal("1.5")]}, schema={"record_id": pl.Utf8, "amount": pl.Decimal(38, 1)}
    )
    right = pl.DataFrame(
        {"record_id": ["a"], "amount": [Decimal("1.499")]}, schema={"record_id": pl.Utf8, "amount": pl.Decimal(38, 3)}
    )
    pass_ = rules_from_data(
        {"passes": [{"name": "p", "comparisons": [{"type": "numeric_tolerance", "absolute": "0.001"}]}]}
    ).passes[0]
    comp = prepare_pass(pass_, prepare_side(left, "left"), prepare_side(right, "right"), {})[0]
    assert comp.scale == 3
    assert evaluate(comp, np.array([0]), np.array([0])).passed.tolist() == [True]


# --- date window -------------------------------------------------------------------------------


@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=30),
    st.integers(0, 10),
    st.sampled_from(["either", "left_before_right", "right_before_left"]),
)
@PROPERTY
def test_date_window_direction(pairs: list[tuple[int, int]], days: int, direction: str) -> None:
    spec = {"type": "date_window", "days": days, "direction": direction}
    ev = run(spec, {"value_date": [day(a) for a, _ in pairs]}, {"value_date": [day(b) for _, b in pairs]})
    allowed = {
        "either": lambda d: -days <= d <= days,
        "left_before_right": lambda d: 0 <= d <= days,
        "right_before_left": lambda d: -days <= d <= 0,
    }[direction]
    assert ev.passed.tolist() == [allowed(b - a) for a, b in pairs]


def test_a_scored_date_window_gives_no_credit_for_a_lag_the_wrong_way_round() -> None:
    lags = [-2, -1, 0, 1, 2]
    left = {"value_date": [day(10)] * len(lags)}
    right = {"value_date": [day(10 + lag) for lag in lags]}
    directed = run({"type": "date_window", "days": 3, "direction": "left_before_right", "mode": "score"}, left, right)
    either = run({"type": "date_window", "days": 3, "direction": "either", "mode": "score"}, left, right)
    assert directed.similarity.tolist() == [0.0, 0.0, 1.0, 0.875, 0.75]
    assert either.similarity.tolist() == [0.75, 0.875, 1.0, 0.875, 0.75]
    assert directed.passed.tolist() == [False, False, True, True, True]


def test_date_window_accepts_datetimes_and_fails_on_null() -> None:
    ev = run(
        {"type": "date_window", "field": "booking_date", "days": 1},
        {"booking_date": [dt.datetime(2024, 1, 1, 23, 0), None]},
        {"booking_date": [day(1), day(1)]},
    )
    assert ev.passed.tolist() == [True, False]


# --- fuzzy, phonetic, reference ----------------------------------------------------------------

SCORERS = {
    "levenshtein": distance.Levenshtein.normalized_similarity,
    "damerau_levenshtein": distance.DamerauLevenshtein.normalized_similarity,
    "jaro_winkler": distance.JaroWinkler.normalized_similarity,
    "token_set": lambda a, b: fuzz.token_set_ratio(a, b) / 100,
}
words = st.text(alphabet="abcde fgh", min_size=1, max_size=12).filter(lambda s: s.strip())


@given(st.lists(st.tuples(words, words), min_size=1, max_size=20), st.sampled_from(sorted(SCORERS)), st.floats(0, 1))
@PROPERTY
def test_fuzzy_matches_rapidfuzz_on_normalised_text(
    pairs: list[tuple[str, str]], algorithm: str, threshold: float
) -> None:
    spec = {"type": "fuzzy", "field": "name", "algorithm": algorithm, "threshold": threshold}
    ev = run(spec, {"name": [a for a, _ in pairs]}, {"name": [b for _, b in pairs]})
    expected = [SCORERS[algorithm](" ".join(a.split()), " ".join(b.split())) for a, b in pairs]
    assert np.allclose(ev.similarity, expected, atol=1e-5)
    assert ev.passed.tolist() == [s >= threshold for s in ev.similarity.tolist()]


raw_text = st.text(alphabet="ab1é \t\x1c", min_size=1, max_size=6)


@given(
    st.lists(st.tuples(raw_text, raw_text, st.booleans()), min_size=1, max_size=20), st.sampled_from(sorted(SCORERS))
)
@PROPERTY
def test_identical_strings_score_exactly_what_rapidfuzz_gives_them(
    pairs: list[tuple[str, str, bool]], algorithm: str
) -> None:
    # Identical pairs skip rapidfuzz (comparators._fuzzy_pairs); whitespace-only and separator-only
    # strings are where token-set does not give them the maximum.
    left = [a for a, _, _ in pairs]
    right = [a if same else b for a, b, same in pairs]
    spec = {"type": "fuzzy", "field": "name", "algorithm": algorithm, "threshold": 0.0, "normalise": None}
    ev = run(spec, {"name": left}, {"name": right})
    expected = [SCORERS[algorithm](a, b) for a, b in zip(left, right, strict=True)]
    assert np.allclose(ev.similarity, expected, atol=1e-6)


def test_fuzzy_dense_block_equals_pairwise() -> None:
    names = ["acme trading", "acme tradin", "globex", "initech ag", None]
    frame = pl.DataFrame({"record_id": [f"{i}" for i in range(5)], "name": names})
    pass_ = rules_from_data(
        {
            "passes": [
                {
                    "name": "p",
                    "comparisons": [{"type": "fuzzy", "field": "name", "algorithm": "jaro_winkler", "threshold": 0.8}],
                }
            ]
        }
    ).passes[0]
    comp = prepare_pass(pass_, prepare_side(frame, "left"), prepare_side(frame, "right"), {})[0]
    rows = np.arange(5)
    dense = evaluate_block(comp, rows, rows)
    pairwise = evaluate(comp, np.repeat(rows, 5), np.tile(rows, 5))
    assert np.allclose(dense.similarity, pairwise.similarity)
    assert dense.passed.tolist() == pairwise.passed.tolist()


@given(st.lists(st.tuples(words, words), min_size=1, max_size=15), st.sampled_from(["soundex", "metaphone", "nysiis"]))
@PROPERTY
def test_phonetic_equality_is_jellyfish_code_equality(pairs: list[tuple[str, str]], algorithm: str) -> None:
    coder = {"soundex": jellyfish.soundex, "metaphone": jellyfish.metaphone, "nysiis": jellyfish.nysiis}[algorithm]
    ev = run(
        {"type": "phonetic", "field": "n", "algorithm": algorithm},
        {"n": [a for a, _ in pairs]},
        {"n": [b for _, b in pairs]},
    )
    assert ev.passed.tolist() == [bool(coder(a)) and coder(a) == coder(b) for a, b in pairs]


def test_phonetic_known_pairs() -> None:
    ev = run(
        {"type": "phonetic", "field": "n", "algorithm": "soundex"},
        {"n": ["Robert", "Smith", "Meyer"]},
        {"n": ["Rupert", "Smyth", "Jones"]},
    )
    assert ev.passed.tolist() == [True, True, False]


@pytest.mark.parametrize("algorithm", ["soundex", "metaphone", "nysiis"])
def test_a_value_without_a_phonetic_code_matches_nothing(algorithm: str) -> None:
    # Metaphone spells no code for digits or CJK text; two empty codes are no evidence of a match.
    ev = run(
        {"type": "phonetic", "field": "n", "algorithm": algorithm},
        {"n": ["12345", "李小龙", "Meyer"]},
        {"n": ["99999", "王芳", "Meyer"]},
    )
    assert ev.passed.tolist() == [False, False, True]


def test_reference_extraction_from_free_text_on_either_side() -> None:
    spec = {
        "type": "reference",
        "pattern": r"(?i)inv[\s\-]*(\d+)",
        "left_fields": ["reference", "description"],
        "right_fields": ["reference"],
        "numeric": True,
    }
    ev = run(
        spec,
        {"reference": [None, "INV-0042", None, None], "description": ["paid inv 42 thanks", None, "no ref", "INV 7"]},
        {"reference": ["INV-0042", "INV 42", "INV-1", "INV-8"]},
    )
    assert ev.passed.tolist() == [True, True, False, False]


def test_reference_without_numeric_compares_alphanumerics() -> None:
    spec = {"type": "reference", "pattern": r"[A-Z]{2}\d{4}", "fields": ["description"]}
    ev = run(spec, {"description": ["Order AB1234 shipped", "AB1234"]}, {"description": ["ab1234", "AB1235"]})
    assert ev.passed.tolist() == [False, False]
    ev = run(spec, {"description": ["Order AB1234 shipped"]}, {"description": ["see AB1234"]})
    assert ev.passed.tolist() == [True]
