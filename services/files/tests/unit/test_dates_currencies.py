"""Dates (shapes, order evidence, explicit formats, pivot, range) and currency codes/symbols."""

from __future__ import annotations

from datetime import date

import pytest

from files.domain.currencies import (
    ACTIVE_CURRENCIES,
    KNOWN_CURRENCIES,
    currency_from_text,
    minor_units,
    resolve_amount_currency,
)
from files.domain.dates import (
    DateEvidence,
    DateOrder,
    compile_date_format,
    date_evidence,
    full_year,
    parse_date,
    parse_date_explicit,
)
from files.domain.errors import ErrorCode, ValueRejected


@pytest.mark.parametrize(("raw", "expected"), [
    ("2024-01-05", date(2024, 1, 5)),
    ("2024-1-5", date(2024, 1, 5)),
    ("2024/01/05", date(2024, 1, 5)),
    ("2024.01.05", date(2024, 1, 5)),
    ("20240105", date(2024, 1, 5)),
    ("05.01.2024", date(2024, 1, 5)),
    ("5.1.24", date(2024, 1, 5)),
    ("05-Jan-2024", date(2024, 1, 5)),
    ("05-JAN-24", date(2024, 1, 5)),
    ("5 January 2024", date(2024, 1, 5)),
    ("5. Januar 2024", date(2024, 1, 5)),
    ("Jan 5, 2024", date(2024, 1, 5)),
    ("2024-01-05T13:45:00Z", date(2024, 1, 5)),  # the date as written, no time-zone shift
    ("2024-01-05 23:59:59.123+02:00", date(2024, 1, 5)),
    ("05.01.2024 10:30", date(2024, 1, 5)),
    (" 2024-01-05 ", date(2024, 1, 5)),
])
def test_self_describing_dates_need_no_order(raw: str, expected: date) -> None:
    assert date_evidence(raw) is DateEvidence.SELF_DESCRIBING
    assert parse_date(raw, None) == expected


@pytest.mark.parametrize(("raw", "evidence"), [
    ("25/01/2024", DateEvidence.DAY_FIRST),
    ("01/25/2024", DateEvidence.MONTH_FIRST),
    ("05/01/2024", DateEvidence.AMBIGUOUS),
    ("05-01-24", DateEvidence.AMBIGUOUS),
    ("05/05/2024", DateEvidence.SELF_DESCRIBING),  # both readings give the same date
    ("240105", DateEvidence.AMBIGUOUS),  # YYMMDD or DDMMYY
    ("13/13/2024", DateEvidence.INVALID),
    ("00/01/2024", DateEvidence.INVALID),
    ("yesterday", DateEvidence.INVALID),
    ("31.02.2024", DateEvidence.INVALID),
])
def test_order_evidence(raw: str, evidence: DateEvidence) -> None:
    assert date_evidence(raw) is evidence


def test_order_decides_ambiguous_values_and_rejects_contradicting_ones() -> None:
    assert parse_date("05/01/2024", DateOrder.DAY_FIRST) == date(2024, 1, 5)
    assert parse_date("05/01/2024", DateOrder.MONTH_FIRST) == date(2024, 5, 1)
    with pytest.raises(ValueRejected) as rejected:
        parse_date("01/25/2024", DateOrder.DAY_FIRST)
    assert rejected.value.code is ErrorCode.DATE_INVALID
    assert rejected.value.message == "'01/25/2024' is not a valid DD/MM/YYYY date"


def test_without_an_order_only_single_reading_values_parse() -> None:
    assert parse_date("25/01/2024", None) == date(2024, 1, 25)
    with pytest.raises(ValueRejected) as rejected:
        parse_date("05/01/2024", None)
    assert rejected.value.code is ErrorCode.DATE_FORMAT_AMBIGUOUS


@pytest.mark.parametrize(("digits", "year"), [("00", 2000), ("24", 2024), ("68", 2068), ("69", 1969), ("99", 1999)])
def test_two_digit_year_pivot_is_posix(digits: str, year: int) -> None:
    assert full_year(digits) == year


@pytest.mark.parametrize(("raw", "code"), [
    ("2024-02-30", ErrorCode.DATE_INVALID),
    ("0001-01-01", ErrorCode.DATE_OUT_OF_RANGE),  # a placeholder, not a date to reconcile
    ("1899-12-31", ErrorCode.DATE_OUT_OF_RANGE),
    ("2200-01-01", ErrorCode.DATE_OUT_OF_RANGE),
    ("05-Foo-2024", ErrorCode.DATE_INVALID),
    ("2024-01-05X", ErrorCode.DATE_INVALID),
    ("", ErrorCode.DATE_INVALID),
])
def test_invalid_dates_are_errors_not_epoch(raw: str, code: ErrorCode) -> None:
    with pytest.raises(ValueRejected) as rejected:
        parse_date(raw, DateOrder.DAY_FIRST)
    assert rejected.value.code is code


@pytest.mark.parametrize(("pattern", "raw", "expected"), [
    ("DD/MM/YYYY", "05/01/2024", date(2024, 1, 5)),
    ("DD/MM/YYYY", "5/1/2024", date(2024, 1, 5)),
    ("MM/DD/YYYY", "01/05/2024", date(2024, 1, 5)),
    ("MM/DD/YY", "01/05/24", date(2024, 1, 5)),
    ("YYMMDD", "240105", date(2024, 1, 5)),
    ("DDMMYYYY", "05012024", date(2024, 1, 5)),
    ("DD-MMM-YYYY", "05-Jan-2024", date(2024, 1, 5)),
    ("D MMMM YYYY", "5 January 2024", date(2024, 1, 5)),
    ("%d.%m.%Y", "05.01.2024", date(2024, 1, 5)),
    ("%Y%m%d", "20240105", date(2024, 1, 5)),
    ("dd/mm/yyyy", "05/01/2024 10:00", date(2024, 1, 5)),
])
def test_explicit_formats(pattern: str, raw: str, expected: date) -> None:
    assert parse_date_explicit(raw, compile_date_format(pattern)) == expected


def test_explicit_format_rejects_other_shapes() -> None:
    fmt = compile_date_format("DD/MM/YYYY")
    with pytest.raises(ValueRejected) as rejected:
        parse_date_explicit("2024-01-05", fmt)
    assert rejected.value.code is ErrorCode.DATE_INVALID
    with pytest.raises(ValueRejected):
        parse_date_explicit("01/25/2024", fmt)


@pytest.mark.parametrize("pattern", ["DD/MM", "YYYY-MM-DD-DD", "%H:%M", "banana"])
def test_unusable_formats_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        compile_date_format(pattern)


def test_the_builtin_list_is_iso_4217_list_one() -> None:
    assert len(ACTIVE_CURRENCIES) == 178
    for code in ("EUR", "USD", "GBP", "JPY", "CHF", "XCG", "ZWG", "SLE", "VED", "XAU", "XXX"):
        assert code in ACTIVE_CURRENCIES
    assert "HRK" not in ACTIVE_CURRENCIES and "HRK" in KNOWN_CURRENCIES  # withdrawn 2023, still on old statements
    assert minor_units("JPY") == 0 and minor_units("BHD") == 3 and minor_units("EUR") == 2


@pytest.mark.parametrize(("raw", "code"), [("EUR", "EUR"), ("eur", "EUR"), (" usd ", "USD"), ("€", "EUR"),
                                           ("£", "GBP"), ("zł", "PLN"), ("HRK", "HRK")])
def test_currency_values(raw: str, code: str) -> None:
    assert currency_from_text(raw) == code


@pytest.mark.parametrize(("raw", "code"), [("XYZ", ErrorCode.CURRENCY_UNKNOWN), ("EU", ErrorCode.CURRENCY_UNKNOWN),
                                           ("Euro", ErrorCode.CURRENCY_UNKNOWN), ("$", ErrorCode.CURRENCY_AMBIGUOUS),
                                           ("¥", ErrorCode.CURRENCY_AMBIGUOUS)])
def test_unknown_and_ambiguous_currency_values(raw: str, code: ErrorCode) -> None:
    with pytest.raises(ValueRejected) as rejected:
        currency_from_text(raw)
    assert rejected.value.code is code


def test_amount_symbols_resolve_against_the_rows_currency() -> None:
    assert resolve_amount_currency("$", "USD") == "USD"
    assert resolve_amount_currency("$", "CAD") == "CAD"
    assert resolve_amount_currency("¥", "JPY") == "JPY"
    assert resolve_amount_currency("€", None) == "EUR"
    assert resolve_amount_currency("EUR", "EUR") == "EUR"
    for token, row, code in (("$", None, ErrorCode.CURRENCY_AMBIGUOUS), ("$", "EUR", ErrorCode.CURRENCY_MISMATCH),
                             ("€", "USD", ErrorCode.CURRENCY_MISMATCH), ("ABC", None, ErrorCode.CURRENCY_UNKNOWN)):
        with pytest.raises(ValueRejected) as rejected:
            resolve_amount_currency(token, row)
        assert rejected.value.code is code
