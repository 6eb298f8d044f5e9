"""XLSX (written with openpyxl here) and JSON Lines: typed cells stay exact, bad lines are row errors."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal

import openpyxl
from files_testkit import mapping, run

SHEET_MAPPING = mapping(value_date="Date", amount="Amount", currency="Currency", description="Text",
                        external_id="Id", extras={"qty": {"column": "Qty", "type": "integer"}})


def _workbook(rows: list[list[object]], *, title: str = "Statement", extra_sheet: bool = False) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if extra_sheet:
        sheet.title = "Cover"
        sheet["A1"] = "nothing here"
        sheet = workbook.create_sheet(title)
    else:
        sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


ROWS: list[list[object]] = [
    ["Account statement January 2024"],
    [],
    ["Date", "Amount", "Currency", "Text", "Id", "Qty"],
    [date(2024, 1, 5), 12.5, "EUR", "numeric cell", 1001, 3],
    [datetime(2024, 1, 6, 14, 30), "1.234,56", "EUR", "text cell, decimal comma", "A-2", "4"],
    [date(2024, 1, 7), 0.1, "EUR", 12345, 1003, 5.0],
    [],
    [date(2024, 1, 8), -1e-7, "usd", "tiny float", 1004, None],
    ["not a date", "x", "EUR", "bad row", 1005, "seven"],
]


def test_xlsx_typed_cells_and_text_cells() -> None:
    result = run(_workbook(ROWS), filename="statement.xlsx", mapping=SHEET_MAPPING, on_error="skip")
    assert result.summary.status == "accepted"
    assert result.summary.details == {"sheet": "Statement", "header_line": 3, "first_data_line": 4,
                                      "preamble_lines": [1]}
    assert result.table("line", "value_date", "amount", "currency", "description", "external_id") == [
        (4, date(2024, 1, 5), Decimal("12.5"), "EUR", "numeric cell", "1001"),
        (5, date(2024, 1, 6), Decimal("1234.56"), "EUR", "text cell, decimal comma", "A-2"),
        (6, date(2024, 1, 7), Decimal("0.1"), "EUR", "12345", "1003"),  # 0.1, not 0.1000000000000000055
        (8, date(2024, 1, 8), Decimal("-0.0000001"), "USD", "tiny float", "1004"),
    ]
    assert [json.loads(r.extras)["qty"] for r in result.rows] == [3, 4, 5, None]
    assert result.error_table() == [(9, "Amount", "amount_invalid"), (9, "Date", "date_invalid"),
                                    (9, "Qty", "integer_invalid")]


def test_xlsx_named_sheet_and_missing_sheet() -> None:
    data = _workbook(ROWS[2:4], title="Data", extra_sheet=True)
    chosen = run(data, filename="book.xlsx", mapping=SHEET_MAPPING, sheet="Data")
    assert chosen.table("line", "amount") == [(2, Decimal("12.5"))]
    missing = run(data, filename="book.xlsx", mapping=SHEET_MAPPING, sheet="Nope")
    assert missing.problem_codes == ["sheet_not_found"]
    assert "Cover, Data" in missing.summary.problems[0].message


def test_corrupt_xlsx_is_a_file_problem() -> None:
    data = _workbook(ROWS)[:300]
    result = run(data, filename="broken.xlsx", mapping=SHEET_MAPPING)
    assert result.summary.status == "failed"
    assert result.problem_codes == ["format_unsupported"]


def test_jsonl_numbers_are_exact_and_bad_lines_are_row_errors() -> None:
    lines = [
        '{"id": "t1", "amount": 12.10, "currency": "EUR", "date": "2024-01-05", "meta": {"a": 1}}',
        '{"id": "t2", "amount": "1,234.50", "currency": "EUR", "date": "2024-01-06"}',
        "",
        '{"id": "t3", "amount": 0.30000000000000004, "currency": "EUR", "date": "2024-01-07"}',
        "{not json}",
        '["an", "array"]',
        '{"id": "t6", "amount": NaN, "currency": "EUR", "date": "2024-01-08"}',
        '{"id": "t7", "id": "again", "amount": 1, "currency": "EUR", "date": "2024-01-08"}',
        '{"id": "t8", "amount": {"v": 1}, "currency": "EUR", "date": "2024-01-08"}',
        '{"id": "t9", "amount": 5, "currency": "EUR"}',
    ]
    data = ("\n".join(lines) + "\n").encode()
    result = run(data, filename="events.jsonl", mapping=mapping(external_id="id", amount="amount",
                                                                currency="currency", value_date="date"),
                 on_error="skip")
    assert result.table("line", "external_id", "amount", "value_date") == [
        (1, "t1", Decimal("12.10"), date(2024, 1, 5)), (2, "t2", Decimal("1234.50"), date(2024, 1, 6)),
        (4, "t3", Decimal("0.30000000000000004"), date(2024, 1, 7))]
    assert result.error_table() == [(5, None, "json_invalid"), (6, None, "json_not_object"),
                                    (7, None, "json_invalid"), (8, None, "json_invalid"),
                                    (9, "amount", "value_not_scalar"), (10, "date", "required_missing")]
    assert result.errors[3].message == "line 8: the key 'id' appears twice"


def test_jsonl_is_detected_from_content() -> None:
    data = b'{"a": "1.5", "c": "EUR"}\n{"a": "2.5", "c": "EUR"}\n'
    result = run(data, filename="upload.txt", mapping=mapping(amount="a", currency="c"))
    assert result.summary.format is not None and result.summary.format.value == "jsonl"
    assert result.column("amount") == [Decimal("1.5"), Decimal("2.5")]
