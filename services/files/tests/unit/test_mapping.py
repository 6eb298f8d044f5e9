"""ColumnMapping: a reusable template; validation and JSON round trip."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from files.domain import ColumnMapping, FieldType, ParseOptions


def test_shorthand_and_full_forms_mean_the_same() -> None:
    short = ColumnMapping.model_validate({"amount": "Betrag", "value_date": "Datum", "currency": "Währung"})
    full = ColumnMapping.model_validate({"amount": {"column": "Betrag"}, "value_date": {"column": "Datum"},
                                         "currency": {"column": "Währung"}})
    assert short == full
    assert short.amount is not None and short.amount.required
    assert short.value_date is not None and short.value_date.required
    booking = ColumnMapping.model_validate({"booking_date": "Buchungstag"}).booking_date
    assert booking is not None and not booking.required


def test_template_round_trips_through_json_unchanged() -> None:
    mapping = ColumnMapping.model_validate({
        "external_id": "Id",
        "debit": {"column": "Soll", "decimal_separator": ",", "thousands_separator": "."},
        "credit": {"column": "Haben", "decimal_separator": ","},
        "currency": {"fixed": "EUR"},
        "value_date": {"column": "Valuta", "date_format": "DD.MM.YYYY"},
        "booking_date": {"column": "Buchung", "date_format": "DD.MM.YY", "required": True},
        "reference": "Referenz", "counterparty": "Name", "description": {"column": "Text", "required": True},
        "extras": {"fee": {"column": "Gebühr", "type": "decimal", "decimal_separator": ","},
                   "batch": {"column": "Stapel", "type": "integer"}, "cleared": {"column": "Ok", "type": "boolean"},
                   "due": {"column": "Fällig", "type": "date", "date_format": "DD.MM.YYYY"}},
    })
    text = mapping.model_dump_json()
    again = ColumnMapping.model_validate_json(text)
    assert again == mapping
    assert again.model_dump_json() == text
    assert again.extras["fee"].type is FieldType.DECIMAL
    assert again.source_columns() == ["Id", "Soll", "Haben", "Valuta", "Buchung", "Referenz", "Name", "Text",
                                      "Gebühr", "Stapel", "Ok", "Fällig"]


@pytest.mark.parametrize("data", [
    {"amount": "A", "debit": "D", "credit": "C"},  # amount and debit/credit together
    {"debit": "D"},  # debit without credit
    {"amount": "A", "currency": {}},  # currency needs a column or a fixed code
    {"amount": "A", "currency": {"column": "C", "fixed": "EUR"}},
    {"amount": "A", "currency": {"fixed": "EURO"}},
    {"amount": "A", "currency": {"fixed": "eur"}},  # templates store the ISO code itself
    {"amount": {"column": "A", "decimal_separator": ";"}},
    {"amount": {"column": "A", "decimal_separator": ",", "thousands_separator": ","}},
    {"value_date": {"column": "D", "date_format": "DD/MM"}},
    {"extras": {"Bad Name": {"column": "X"}}},
    {"extras": {"x": {"column": "X", "type": "float"}}},
    {"amount": "A", "unknown_field": "B"},
    {"currency": {"fixed": "EUR"}},  # a fixed currency without an amount means nothing
])
def test_invalid_templates_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ColumnMapping.model_validate(data)


def test_options_have_safe_defaults() -> None:
    options = ParseOptions()
    assert options.on_error.value == "reject"
    assert options.max_reported_errors == 1000
    with pytest.raises(ValidationError):
        ParseOptions(delimiter=":")
