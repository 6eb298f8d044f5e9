"""parse_file semantics: reject/skip, debit/credit, currency sources, extras, and no silent coercion."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Generator
from datetime import date
from decimal import Decimal

from files_testkit import mapping, run

from files.domain import ParseOptions, parse_file

BASE = mapping(external_id="id", amount="amount", currency="currency", value_date="date")


def _rows(*lines: str, header: str = "id,amount,currency,date") -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def test_reject_mode_returns_every_error_and_no_rows() -> None:
    data = _rows("1,1.00,EUR,2024-01-05", "2,abc,EUR,2024-01-05", "3,3.00,XYZ,2024-01-05", "4,4.00,EUR,2024-02-30",
                 "5,5.00,EUR,")
    result = run(data, mapping=BASE)
    assert result.summary.status == "rejected"
    assert result.summary.rows_accepted == 0
    assert all(chunk.frame.height == 0 for chunk in result.chunks[1:])  # after the first error: no rows
    assert result.error_table() == [(3, "amount", "amount_invalid"), (4, "currency", "currency_unknown"),
                                    (5, "date", "date_invalid"), (6, "date", "required_missing")]
    assert [e.raw_value for e in result.errors] == ["abc", "XYZ", "2024-02-30", ""]
    assert [e.message for e in result.errors] == [
        "'abc' is not an amount", "'XYZ' is not an ISO 4217 currency code", "'2024-02-30' is not a calendar date",
        "'date' is empty but required"]


def test_skip_mode_keeps_good_rows_and_lists_the_bad_ones() -> None:
    data = _rows("1,1.00,EUR,2024-01-05", "2,abc,EUR,2024-01-05", "3,3.00,eur,2024-01-07")
    result = run(data, mapping=BASE, on_error="skip")
    assert result.summary.status == "accepted"
    assert result.table("line", "external_id", "amount", "currency", "value_date") == [
        (2, "1", Decimal("1.00"), "EUR", date(2024, 1, 5)), (4, "3", Decimal("3.00"), "EUR", date(2024, 1, 7))]
    assert result.error_table() == [(3, "amount", "amount_invalid")]
    assert (result.summary.rows_read, result.summary.rows_accepted, result.summary.rows_with_errors) == (3, 2, 1)


def test_skip_mode_with_every_row_bad_fails_the_file_and_still_lists_the_rows() -> None:
    result = run(_rows("1,abc,EUR,2024-01-05", "2,2.00,XYZ,2024-01-05"), mapping=BASE, on_error="skip")
    assert (result.summary.status, result.summary.rows_accepted, result.rows) == ("failed", 0, [])
    [problem] = result.summary.problems
    assert (problem.code.value, problem.column, dict(problem.params)) == ("no_valid_rows", None, {"rows": 2})
    assert problem.message == "none of the 2 data rows could be read; see the row errors"
    assert result.error_table() == [(2, "amount", "amount_invalid"), (3, "currency", "currency_unknown")]
    assert [e.line for e in result.summary.errors] == [2, 3]
    reject = run(_rows("1,abc,EUR,2024-01-05"), mapping=BASE)
    assert (reject.summary.status, reject.problem_codes) == ("rejected", []), "reject mode says rows_invalid"


def test_one_row_with_two_bad_values_reports_both() -> None:
    result = run(_rows("1,x,EUR,notadate"), mapping=BASE, on_error="skip")
    assert result.error_table() == [(2, "amount", "amount_invalid"), (2, "date", "date_invalid")]
    assert result.summary.rows_with_errors == 1


def test_error_list_is_bounded_but_the_count_is_exact() -> None:
    data = _rows(*[f"{i},bad,EUR,2024-01-05" for i in range(20)])
    result = run(data, mapping=BASE, max_reported_errors=5)
    assert result.summary.error_count == 20
    assert len(result.summary.errors) == 5
    assert result.summary.errors_truncated
    assert [e.line for e in result.summary.errors] == [2, 3, 4, 5, 6]


def test_debit_and_credit_columns() -> None:
    data = (
        b"Datum;Soll;Haben\n"
        b"01.01.2024;12,50;\n"  # debit -> negative
        b"02.01.2024;;100,00\n"  # credit -> positive
        b"03.01.2024;-7,00;\n"  # a debit printed negative is still money out
        b"04.01.2024;0,00;3,00\n"  # zero in the other column is not "filled"
        b"05.01.2024;0,00;\n"  # a zero amount is a zero amount
        b"06.01.2024;1,00;2,00\n"  # both
        b"07.01.2024;;\n"  # neither
        b"08.01.2024;;-1,00\n"  # negative credit
        b"09.01.2024;5,00 CR;\n"  # credit mark in the debit column
    )
    result = run(data, mapping=mapping(value_date="Datum", debit="Soll", credit="Haben",
                                       currency={"fixed": "EUR"}), on_error="skip")
    assert result.table("line", "amount") == [(2, Decimal("-12.50")), (3, Decimal("100.00")), (4, Decimal("-7.00")),
                                              (5, Decimal("3.00")), (6, Decimal("0.00"))]
    assert result.error_table() == [(7, "Soll | Haben", "debit_credit_both_set"),
                                    (8, "Soll | Haben", "debit_credit_missing"),
                                    (9, "Haben", "amount_invalid"), (10, "Soll", "amount_invalid")]
    assert result.errors[0].raw_value == "1,00 | 2,00"


def test_currency_from_column_fixed_value_and_the_amount_itself() -> None:
    data = _rows("1,€12.00,,2024-01-05", "2,12.00 GBP,GBP,2024-01-05", "3,12.00 GBP,EUR,2024-01-05",
                 "4,£5,,2024-01-05", "5,7.00,,2024-01-05", "6,1.00,$,2024-01-05", "7,2.00,usd,2024-01-05")
    result = run(data, mapping=BASE, on_error="skip")
    assert result.table("line", "amount", "currency") == [(2, Decimal("12.00"), "EUR"), (3, Decimal("12.00"), "GBP"),
                                                         (5, Decimal("5"), "GBP"), (8, Decimal("2.00"), "USD")]
    assert result.error_table() == [(4, "currency", "currency_mismatch"), (6, "currency", "required_missing"),
                                    (7, "currency", "currency_ambiguous")]
    fixed = run(_rows("1,$12.00,,2024-01-05", header="id,amount,x,date"),
                mapping=mapping(amount="amount", currency={"fixed": "CAD"}, value_date="date"))
    assert fixed.table("amount", "currency") == [(Decimal("12.00"), "CAD")]
    wrong = run(_rows("1,€12.00,,2024-01-05", header="id,amount,x,date"),
                mapping=mapping(amount="amount", currency={"fixed": "USD"}, value_date="date"))
    assert wrong.error_table() == [(2, "amount", "currency_mismatch")]


def test_typed_extras_are_kept_exactly() -> None:
    data = (b"id;amount;fee;batch;cleared;due;note\n"
            b"1;10,00;0,25;7;ja;31.01.2024;first\n"
            b"2;20,00;;;nein;;\n")
    extras = {"fee": {"column": "fee", "type": "decimal"}, "batch": {"column": "batch", "type": "integer"},
              "cleared": {"column": "cleared", "type": "boolean"}, "due": {"column": "due", "type": "date"},
              "note": {"column": "note"}}
    result = run(data, mapping=mapping(external_id="id", amount="amount", currency={"fixed": "EUR"},
                                       extras=extras))
    assert [json.loads(row.extras) for row in result.rows] == [
        {"batch": 7, "cleared": True, "due": "2024-01-31", "fee": "0.25", "note": "first"},
        {"batch": None, "cleared": False, "due": None, "fee": None, "note": None}]
    bad = run(b"id;amount;batch;cleared\n1;1,0;7.5;maybe\n", mapping=mapping(
        amount="amount", currency={"fixed": "EUR"}, extras={"batch": {"column": "batch", "type": "integer"},
                                                             "cleared": {"column": "cleared", "type": "boolean"}}))
    assert bad.error_table() == [(2, "batch", "integer_invalid"), (2, "cleared", "boolean_invalid")]


def test_no_value_is_ever_coerced() -> None:
    data = _rows("1,,EUR,2024-01-05", "2,n/a,EUR,2024-01-05", "3,0,EUR,0000-00-00", "4,1.00,EUR,01/01/0001",
                 "5,1.00,EUR,  ")
    result = run(data, mapping=BASE, on_error="skip")
    assert result.rows == []
    assert result.error_table() == [(2, "amount", "required_missing"), (3, "amount", "amount_invalid"),
                                    (4, "date", "date_invalid"), (5, "date", "date_out_of_range"),
                                    (6, "date", "required_missing")]


def test_identical_rows_are_all_kept_and_numbered() -> None:
    data = _rows("A,1.00,EUR,2024-01-05", "A,1.00,EUR,2024-01-05", "B,1.00,EUR,2024-01-05",
                 "A,1.00,EUR,2024-01-05")
    result = run(data, mapping=BASE)
    assert result.column("occurrence") == [0, 1, 0, 2]
    fingerprints = result.column("fingerprint")
    assert fingerprints[0] == fingerprints[1] == fingerprints[3] != fingerprints[2]
    assert all(len(f) == 16 for f in fingerprints)


def test_overlapping_statements_share_exactly_the_overlap() -> None:
    first = run(_rows("1,1.00,EUR,2024-01-01", "2,2.00,EUR,2024-01-02", "2,2.00,EUR,2024-01-02"), mapping=BASE)
    # The next export repeats the last days in another number format and order of lines.
    second = run((b"id;amount;currency;date\n2;2,00;EUR;02.01.2024\n2;2,00;EUR;02.01.2024\n"
                  b"2;2,00;EUR;02.01.2024\n3;3,00;EUR;03.01.2024\n"), mapping=BASE)
    stored = set(zip(first.column("fingerprint"), first.column("occurrence"), strict=True))
    new = [(row.external_id, row.occurrence) for row in second.rows if (row.fingerprint, row.occurrence) not in stored]
    assert new == [("2", 2), ("3", 0)]  # the third identical "2" row and the new "3" row


def test_fingerprint_ignores_scale_and_line_but_not_values() -> None:
    a = run(_rows("1,12.5,EUR,2024-01-05"), mapping=BASE).rows[0]
    b = run(_rows("", "1,12.50,EUR,2024-01-05"), mapping=BASE).rows[0]
    c = run(_rows("1,12.51,EUR,2024-01-05"), mapping=BASE).rows[0]
    assert (a.line, b.line) == (2, 3)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_copy_payload_matches_the_records() -> None:
    data = _rows('1,"1,234.50",EUR,2024-01-05', '2,-3,EUR,2024-01-06')
    chunk = next(chunk for chunk in parse_file(io.BytesIO(data), filename="x.csv", mapping=BASE)
                 if chunk.frame.height)
    lines = list(csv.reader(io.StringIO(chunk.to_copy_csv().decode())))
    records = chunk.records()
    assert [line[:6] for line in lines] == [["2", "1", "1234.50", "EUR", "2024-01-05", ""],
                                            ["3", "2", "-3", "EUR", "2024-01-06", ""]]
    assert [bytes.fromhex(line[10][2:]) for line in lines] == [r.fingerprint for r in records]
    assert [line[11] for line in lines] == ["0", "0"]
    assert chunk.copy_rows()[0][:4] == (2, "1", Decimal("1234.50"), "EUR")


def test_non_seekable_streams_are_spooled() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    chunks = list(parse_file(io.BufferedReader(Pipe(_rows("1,1.00,EUR,2024-01-05"))), filename="x.csv",
                             mapping=BASE, options=ParseOptions()))
    assert chunks[-1].summary is not None and chunks[-1].summary.status == "accepted"
    assert chunks[0].records()[0].amount == Decimal("1.00")


def test_abandoning_the_stream_stops_the_background_reader() -> None:
    import threading

    data = _rows(*[f"{i},{i}.00,EUR,2024-01-05" for i in range(3000)])
    chunks = parse_file(io.BytesIO(data), filename="x.csv", mapping=BASE, options=ParseOptions(block_bytes=2048))
    assert isinstance(chunks, Generator)
    first = next(chunks)
    assert first.frame.height > 0
    chunks.close()
    assert not [t for t in threading.enumerate() if t.name == "files-parse-prefetch"]


def test_nul_characters_in_text_are_reported_not_truncated() -> None:
    data = b"id,amount,currency,date,text\n1,1.00,EUR,2024-01-05,ok\n2,2.00,EUR,2024-01-05,bad\x00byte\n"
    result = run(data, mapping=mapping(external_id="id", amount="amount", currency="currency", value_date="date",
                                       description="text"), on_error="skip")
    assert result.error_table() == [(3, "text", "text_invalid")]
    assert result.table("line", "description") == [(2, "ok")]


def test_looked_up_values_land_on_their_own_rows() -> None:
    """Dates, odd-shaped amounts and lower-case currencies are parsed once per distinct value and attached back
    by key: every row, across batches and with blanks in between, must get its own value."""
    optional_date = mapping(external_id="id", amount="amount", currency="currency", value_date="date",
                            booking_date="booked")
    amounts = ["(5.00)", "1.00", "12.50 CR", "-0.00", "7", "EUR 3.10"]
    days = [17, 3, 28, 3, 11, 17, 9]
    lines = [f"{i},{amounts[i % len(amounts)]},{'eur' if i % 4 == 0 else 'EUR'},2024-01-{days[i % len(days)]:02d},"
             f"{'' if i % 3 == 0 else f'2024-02-{days[(i + 2) % len(days)]:02d}'}" for i in range(120)]
    result = run(_rows(*lines, header="id,amount,currency,date,booked"), mapping=optional_date, block_bytes=256)
    assert len(result.chunks) > 3, "the rows span several batches"
    expected_amounts = {"(5.00)": "-5.00", "1.00": "1.00", "12.50 CR": "12.50", "-0.00": "0.00", "7": "7",
                        "EUR 3.10": "3.10"}
    assert result.table("external_id", "amount", "currency", "value_date", "booking_date") == [
        (str(i), Decimal(expected_amounts[amounts[i % len(amounts)]]), "EUR", date(2024, 1, days[i % len(days)]),
         None if i % 3 == 0 else date(2024, 2, days[(i + 2) % len(days)])) for i in range(120)]
