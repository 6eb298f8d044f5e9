"""Amount parsing: exact decimals, every written form, and nothing coerced."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from files.domain.amounts import NumberFormat, SeparatorEvidence, parse_amount, separator_evidence, split_amount
from files.domain.errors import ErrorCode, ValueRejected
from files.domain.mapping import ColumnMapping
from files.domain.normalise import Normaliser
from files.domain.plan import Plan, build_plan
from files.domain.raw import LINE, RawBatch

POINT = NumberFormat(".")
COMMA = NumberFormat(",")


@pytest.mark.parametrize(("raw", "fmt", "text", "token"), [
    ("12.50", POINT, "12.50", None),
    ("1,234.56", POINT, "1234.56", None),
    ("1.234,56", COMMA, "1234.56", None),
    ("1 234,56", COMMA, "1234.56", None),
    ("1\u00a0234,56", COMMA, "1234.56", None),
    ("1\u202f234,56", COMMA, "1234.56", None),
    ("1'234.56", POINT, "1234.56", None),
    ("1\u2019234.56", POINT, "1234.56", None),
    ("1,234,567.891", POINT, "1234567.891", None),
    ("-12.50", POINT, "-12.50", None),
    ("\u221212.50", POINT, "-12.50", None),
    ("+12.50", POINT, "12.50", None),
    ("12.50-", POINT, "-12.50", None),
    ("(12.50)", POINT, "-12.50", None),
    ("12.50 CR", POINT, "12.50", None),
    ("12.50CR", POINT, "12.50", None),
    ("12.50 DR", POINT, "-12.50", None),
    ("12,50 dr", COMMA, "-12.50", None),
    ("€12.50", POINT, "12.50", "€"),
    ("12,50 €", COMMA, "12.50", "€"),
    ("-€12.50", POINT, "-12.50", "€"),
    ("€-12.50", POINT, "-12.50", "€"),
    ("EUR 12.00", POINT, "12.00", "EUR"),
    ("12.00 USD", POINT, "12.00", "USD"),
    ("usd12.00", POINT, "12.00", "USD"),
    ("(EUR 1,234.00)", POINT, "-1234.00", "EUR"),
    ("£ 3", POINT, "3", "£"),
    ("$5.25", POINT, "5.25", "$"),
    ("US$5.25", POINT, "5.25", "US$"),
    ("12.50 SCR", POINT, "12.50", "SCR"),  # Seychelles rupee: "CR" inside a code is not a credit mark
    (".5", POINT, "0.5", None),
    ("007.50", POINT, "7.50", None),
    ("-0.00", POINT, "0.00", None),  # negative zero is zero
    ("(0,00)", COMMA, "0.00", None),
    ("  42  ", NumberFormat(None), "42", None),
    ("1 000 000", NumberFormat(None), "1000000", None),
])
def test_written_forms_parse_to_exact_values(raw: str, fmt: NumberFormat, text: str, token: str | None) -> None:
    parsed = parse_amount(raw, fmt)
    assert parsed.text == text
    assert parsed.value == Decimal(text)
    assert parsed.currency_token == token


@pytest.mark.parametrize(("raw", "fmt", "code"), [
    ("12,50", POINT, ErrorCode.AMOUNT_INVALID),  # contradicts the column's decimal point
    ("1.234,56", POINT, ErrorCode.AMOUNT_INVALID),
    ("1,234.56", COMMA, ErrorCode.AMOUNT_INVALID),
    ("12.5", NumberFormat(None), ErrorCode.AMOUNT_INVALID),
    ("1,23,456.00", POINT, ErrorCode.AMOUNT_INVALID),  # lakh grouping is not accepted
    ("0,123.00", POINT, ErrorCode.AMOUNT_INVALID),  # a zero group is never thousands
    ("1.2.3", POINT, ErrorCode.AMOUNT_INVALID),
    ("12.", POINT, ErrorCode.AMOUNT_INVALID),
    ("-(12.50)", POINT, ErrorCode.AMOUNT_INVALID),  # two sign indicators
    ("-12.50 DR", POINT, ErrorCode.AMOUNT_INVALID),
    ("(12.50) CR", POINT, ErrorCode.AMOUNT_INVALID),
    ("+12.50-", POINT, ErrorCode.AMOUNT_INVALID),
    ("abc", POINT, ErrorCode.AMOUNT_INVALID),
    ("", POINT, ErrorCode.AMOUNT_INVALID),
    ("-", POINT, ErrorCode.AMOUNT_INVALID),
    ("1e5", POINT, ErrorCode.AMOUNT_INVALID),  # no exponents
    ("NaN", POINT, ErrorCode.AMOUNT_INVALID),
    ("1_000", POINT, ErrorCode.AMOUNT_INVALID),
    ("12 34", POINT, ErrorCode.AMOUNT_INVALID),  # a space group of two digits is not grouping
    ("1" * 39, POINT, ErrorCode.AMOUNT_TOO_LARGE),
])
def test_bad_values_are_rejected_never_coerced(raw: str, fmt: NumberFormat, code: ErrorCode) -> None:
    with pytest.raises(ValueRejected) as rejected:
        parse_amount(raw, fmt)
    assert rejected.value.code is code
    assert raw.strip() == "" or repr(raw) in rejected.value.message


def test_contradiction_message_says_where_the_format_came_from() -> None:
    with pytest.raises(ValueRejected) as rejected:
        parse_amount("12,50", POINT, origin="inferred from line 7: '1,234.56'")
    assert rejected.value.message == ("'12,50' does not match the column's number format (decimal point '.', "
                                      "inferred from line 7: '1,234.56')")


def test_explicit_thousands_separator_rejects_other_marks() -> None:
    fmt = NumberFormat(",", thousands=".")
    assert parse_amount("1.234,5", fmt).text == "1234.5"
    with pytest.raises(ValueRejected):
        parse_amount("1 234,5", fmt)


@pytest.mark.parametrize(("raw", "evidence"), [
    ("1.234,56", SeparatorEvidence.COMMA_DECIMAL),
    ("1,234.56", SeparatorEvidence.DOT_DECIMAL),
    ("12.5", SeparatorEvidence.DOT_DECIMAL),
    ("12,50", SeparatorEvidence.COMMA_DECIMAL),
    ("0,123", SeparatorEvidence.COMMA_DECIMAL),
    ("1234,567", SeparatorEvidence.COMMA_DECIMAL),
    ("1,234,567", SeparatorEvidence.DOT_DECIMAL),
    ("1.234.567", SeparatorEvidence.COMMA_DECIMAL),
    ("1'234.567", SeparatorEvidence.DOT_DECIMAL),
    ("1,234", SeparatorEvidence.AMBIGUOUS),
    ("-1.234 EUR", SeparatorEvidence.AMBIGUOUS),
    ("1234", SeparatorEvidence.NONE),
    ("x", SeparatorEvidence.NONE),
    ("1.2,3.4", SeparatorEvidence.NONE),
])
def test_each_value_says_what_it_proves_about_the_separator(raw: str, evidence: SeparatorEvidence) -> None:
    assert separator_evidence(raw) is evidence


def test_split_keeps_the_sign_indicator_for_debit_credit_rules() -> None:
    assert split_amount("12.00 CR").indicator is not None
    assert split_amount("12.00 CR").indicator.value == "CR"  # type: ignore[union-attr]
    assert split_amount("12.00").indicator is None


# -- property: formatting a Decimal the way a locale writes it always parses back to the same value --

_STYLES = [(".", None), (".", ","), (",", "."), (",", " "), (",", "\u202f"), (".", "'"), (",", None)]


def _group(digits: str, mark: str) -> str:
    head = len(digits) % 3 or 3
    return mark.join([digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)])


def _write(value: Decimal, decimal: str, thousands: str | None, sign: str, currency: str) -> str:
    text = format(abs(value), "f")
    whole, _, fraction = text.partition(".")
    if thousands:
        whole = _group(whole, thousands)
    body = whole + (decimal + fraction if fraction else "")
    negative = value < 0
    if negative:
        body = {"minus": f"-{body}", "trailing": f"{body}-", "parens": f"({body})", "marker": f"{body} DR"}[sign]
    elif sign == "marker":
        body = f"{body} CR"
    return {"none": body, "code-prefix": f"EUR {body}", "code-suffix": f"{body} EUR", "symbol": f"€{body}",
            "symbol-suffix": f"{body} €"}[currency]


@given(value=st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False,
                         allow_infinity=False),
       style=st.sampled_from(_STYLES), sign=st.sampled_from(["minus", "trailing", "parens", "marker"]),
       currency=st.sampled_from(["none", "code-prefix", "code-suffix", "symbol", "symbol-suffix"]))
@settings(max_examples=300, deadline=None)
def test_locale_written_amounts_round_trip(value: Decimal, style: tuple[str, str | None], sign: str,
                                           currency: str) -> None:
    decimal, thousands = style
    written = _write(value, decimal, thousands, sign, currency)
    parsed = parse_amount(written, NumberFormat(decimal))  # type: ignore[arg-type]
    assert parsed.value == value
    assert parsed.currency_token == {"none": None, "code-prefix": "EUR", "code-suffix": "EUR"}.get(currency, "€")


@given(value=st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=3, allow_nan=False,
                         allow_infinity=False), style=st.sampled_from(_STYLES))
@settings(max_examples=200, deadline=None)
def test_evidence_never_contradicts_the_writing_locale(value: Decimal, style: tuple[str, str | None]) -> None:
    decimal, thousands = style
    evidence = separator_evidence(_write(value, decimal, thousands, "minus", "none"))
    assert evidence in (SeparatorEvidence(decimal), SeparatorEvidence.AMBIGUOUS, SeparatorEvidence.NONE)


# -- property: the vectorised fast path gives exactly what the scalar parser gives --

def _normalise_amounts(values: list[str], decimal: str) -> tuple[list[str | None], dict[int, str]]:
    mapping = ColumnMapping.model_validate({"amount": {"column": "a", "decimal_separator": decimal},
                                            "currency": {"fixed": "EUR"}})
    plan = build_plan(mapping, ["a"])
    assert isinstance(plan, Plan)
    resolved, problems, _ = plan.resolve(complete=True)
    assert not problems
    frame = pl.DataFrame({LINE: list(range(1, len(values) + 1)), "a": values},
                         schema={LINE: pl.Int64, "a": pl.String})
    result = Normaliser(plan, resolved).normalise(RawBatch(frame=frame))
    texts: list[str | None] = [None] * len(values)
    for line, text in zip(result.frame[LINE].to_list(), result.frame["amount"].to_list(), strict=True):
        texts[line - 1] = text
    return texts, {e.line: e.code.value for e in result.errors}


_AMOUNT_ALPHABET = st.sampled_from(list("0123456789") * 4 + list(".,-+() '€$") + ["EUR", "CR", "DR", "\u00a0"])


@given(values=st.lists(st.lists(_AMOUNT_ALPHABET, min_size=1, max_size=12).map("".join), min_size=1, max_size=40),
       decimal=st.sampled_from([".", ","]))
@settings(max_examples=150, deadline=None)
def test_vectorised_amounts_equal_the_scalar_parser(values: list[str], decimal: str) -> None:
    texts, errors = _normalise_amounts(values, decimal)
    for index, raw in enumerate(values):
        line = index + 1
        if not raw.strip(" \u00a0"):
            assert errors[line] == ErrorCode.REQUIRED_MISSING.value
            continue
        rejected_code: str | None = None
        try:
            expected = parse_amount(raw, NumberFormat(decimal))  # type: ignore[arg-type]
        except ValueRejected as rejected:
            rejected_code = rejected.code.value
        if rejected_code is not None:
            assert errors[line] == rejected_code, raw
            continue
        if expected.currency_token is not None and expected.currency_token not in ("EUR", "€"):
            assert line in errors, raw  # "$" (or another code) does not fit the fixed EUR
            continue
        assert texts[index] == expected.text, raw
        assert line not in errors
