"""preview() before committing anything, and the fingerprint's reference definition."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from files_testkit import mapping, run
from hypothesis import given, settings
from hypothesis import strategies as st

from files.domain import ColumnMapping, fingerprint_key, preview, row_fingerprint
from files.domain.canonical import FINGERPRINT_SCHEMES, finish_frame

BANK_CSV = (
    "Kontoauszug;;;;\n"
    "\n"
    "Buchungstag;Wertstellung;Verwendungszweck;Betrag;Währung;Belegnummer\n"
    "02.01.2024;03.01.2024;Miete;-1.234,56;EUR;7\n"
    "04.01.2024;05.01.2024;Kaffee;-3,50;EUR;8\n"
    "06.01.2024;06.01.2024;Kurz\n"
).encode("cp1252")


def test_preview_without_a_mapping_describes_the_file_and_suggests_one() -> None:
    result = preview(io.BytesIO(BANK_CSV), filename="konto.csv")
    assert result.format is not None and result.format.value == "csv"
    assert result.details["header_line"] == 3 and result.details["encoding"] == "windows-1252"
    assert [(c.name, c.inferred_type) for c in result.columns] == [
        ("Buchungstag", "date"), ("Wertstellung", "date"), ("Verwendungszweck", "text"), ("Betrag", "decimal"),
        ("Währung", "text"), ("Belegnummer", "integer")]
    assert result.columns[3].decimal_separator == ","
    assert result.raw_rows[0] == {"line": 4, "Buchungstag": "02.01.2024", "Wertstellung": "03.01.2024",
                                  "Verwendungszweck": "Miete", "Betrag": "-1.234,56", "Währung": "EUR",
                                  "Belegnummer": "7"}
    assert result.mapping_suggested
    assert result.mapping == ColumnMapping.model_validate({
        "amount": "Betrag", "currency": {"column": "Währung"}, "value_date": "Wertstellung",
        "booking_date": "Buchungstag", "description": "Verwendungszweck", "external_id": "Belegnummer"})
    assert [(r.line, r.amount, r.booking_date) for r in result.rows] == [
        (4, Decimal("-1234.56"), date(2024, 1, 2)), (5, Decimal("-3.50"), date(2024, 1, 4))]
    assert [(e.line, e.code.value) for e in result.errors] == [(6, "row_width_mismatch")]


def test_preview_reports_the_ambiguous_date_column_and_mapping_problems() -> None:
    data = b"Date,Amount\n05/01/2024,1.00\n06/02/2024,2.00\n"
    result = preview(io.BytesIO(data), filename="x.csv",
                     mapping=mapping(value_date="Date", amount="Amount", currency={"fixed": "USD"}))
    assert result.columns[0].problems[0].code.value == "date_format_ambiguous"
    assert [p.code.value for p in result.problems] == ["date_format_ambiguous"]
    assert result.rows == ()
    missing = preview(io.BytesIO(data), filename="x.csv", mapping=mapping(amount="Betrag", currency={"fixed": "EUR"}))
    assert [p.code.value for p in missing.problems] == ["column_not_found"]


def test_preview_of_an_unreadable_file_is_a_problem_not_an_exception() -> None:
    result = preview(io.BytesIO(b"PK\x03\x04 not really a zip"), filename="x.xlsx")
    assert [p.code.value for p in result.problems] == ["format_unsupported"]


def test_records_carry_the_reference_fingerprint() -> None:
    data = b"id,amount,currency,date,text\n7,1.50,EUR,2024-01-05,\"a\x1fb\"\n8,2,EUR,,\\\x1e\n"
    result = run(data, mapping=mapping(external_id="id", amount="amount", currency="currency",
                                       booking_date="date", description="text"))
    for row in result.rows:
        key = fingerprint_key(external_id=row.external_id, amount=format(row.amount, "f"), currency=row.currency,
                              value_date=row.value_date, booking_date=row.booking_date, reference=row.reference,
                              counterparty=row.counterparty, description=row.description, extras=row.extras)
        assert row.fingerprint == row_fingerprint(key)
    for scheme in FINGERPRINT_SCHEMES:
        assert fingerprint_key(external_id="7", amount="1.50", currency="EUR", value_date=None,
                               booking_date=date(2024, 1, 5), reference=None, counterparty=None,
                               description="a\x1fb", extras=None, scheme=scheme) == (
            f"v{scheme}\x1f7\x1f1.5\x1fEUR\x1f\x1f19727\x1f\x1f\x1fa\x1e\x1fb\x1f")


def test_the_schemes_hash_with_blake2b_and_blake3() -> None:
    # Published test vectors: BLAKE2b-512("abc") and BLAKE3("abc"), first 16 bytes.
    assert row_fingerprint("abc", scheme=1) == bytes.fromhex("ba80a53f981c4d0d6a2797b69f12f6e9")
    assert row_fingerprint("abc", scheme=2) == bytes.fromhex("6437b3ac38465133ffb63b75273a8db5")
    assert row_fingerprint("", scheme=2) == bytes.fromhex("af1349b9f5f9a1a6a0404dea36dcc949")
    with pytest.raises(ValueError, match="unknown fingerprint scheme 3"):
        fingerprint_key(external_id=None, amount=None, currency=None, value_date=None, booking_date=None,
                        reference=None, counterparty=None, description=None, extras=None, scheme=3)


_TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("ab \x1e\x1f\\é")), min_size=1, max_size=6))


@given(rows=st.lists(st.tuples(_TEXT, _TEXT, st.decimals(min_value=-10**6, max_value=10**6, places=2),
                               st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1))),
                     min_size=1, max_size=20), separators_possible=st.booleans(),
       scheme=st.sampled_from(FINGERPRINT_SCHEMES))
@settings(max_examples=60, deadline=None)
def test_vectorised_key_equals_the_reference(rows: list[tuple[str | None, str | None, Decimal, date]],
                                             separators_possible: bool, scheme: int) -> None:
    escape_needed = any("\x1e" in (t or "") or "\x1f" in (t or "") for r in rows for t in r[:2])
    frame = pl.DataFrame({
        "__line": list(range(len(rows))), "external_id": [r[0] for r in rows], "amount": [str(r[2]) for r in rows],
        "currency": ["EUR"] * len(rows), "value_date": [r[3] for r in rows], "booking_date": [None] * len(rows),
        "reference": [None] * len(rows), "counterparty": [None] * len(rows), "description": [r[1] for r in rows],
    }, schema={"__line": pl.Int64, "external_id": pl.String, "amount": pl.String, "currency": pl.String,
               "value_date": pl.Date, "booking_date": pl.Date, "reference": pl.String, "counterparty": pl.String,
               "description": pl.String})
    finished = finish_frame(frame, [], may_hold_separators=separators_possible or escape_needed, scheme=scheme)
    for (external_id, description, amount, value_date), fingerprint in zip(rows, finished["fingerprint"],
                                                                           strict=True):
        key = fingerprint_key(external_id=external_id, amount=str(amount), currency="EUR", value_date=value_date,
                              booking_date=None, reference=None, counterparty=None, description=description,
                              extras=None, scheme=scheme)
        assert fingerprint == row_fingerprint(key, scheme=scheme)
