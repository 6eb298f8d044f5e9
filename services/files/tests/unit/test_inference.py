"""Whole-column inference: never a silent guess, however far down the deciding value is."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from files_testkit import mapping, run

DATES = mapping(value_date="date", amount="amount", currency={"fixed": "EUR"})


def _csv(rows: list[tuple[str, str]]) -> bytes:
    return ("date,amount\n" + "".join(f"{d},{a}\n" for d, a in rows)).encode()


def test_ambiguous_date_column_is_an_error_asking_for_the_format() -> None:
    result = run(_csv([("05/01/2024", "1.00"), ("06/02/2024", "2.00"), ("07/03/2024", "3.00")]), mapping=DATES)
    assert result.summary.status == "failed"
    assert result.rows == []
    (problem,) = result.summary.problems
    assert problem.code.value == "date_format_ambiguous"
    assert problem.column == "date"
    assert [(e.line, e.raw_value) for e in problem.examples] == [(2, "05/01/2024"), (3, "06/02/2024"),
                                                                (4, "07/03/2024")]
    assert "set its date_format" in problem.message


def test_explicit_format_resolves_the_ambiguity() -> None:
    data = _csv([("05/01/2024", "1.00"), ("06/02/2024", "2.00")])
    day_first = run(data, mapping=mapping(value_date={"column": "date", "date_format": "DD/MM/YYYY"},
                                          amount="amount", currency={"fixed": "EUR"}))
    month_first = run(data, mapping=mapping(value_date={"column": "date", "date_format": "MM/DD/YYYY"},
                                            amount="amount", currency={"fixed": "EUR"}))
    assert day_first.column("value_date") == [date(2024, 1, 5), date(2024, 2, 6)]
    assert month_first.column("value_date") == [date(2024, 5, 1), date(2024, 6, 2)]


def test_one_deciding_value_anywhere_settles_the_column() -> None:
    rows = [("05/01/2024", "1.00")] * 30 + [("25/01/2024", "2.00")]
    result = run(_csv(rows), mapping=DATES, sample_rows=100)
    assert result.summary.status == "accepted"
    assert set(result.column("value_date")) == {date(2024, 1, 5), date(2024, 1, 25)}


def test_deciding_value_beyond_the_window_triggers_a_whole_column_pass() -> None:
    rows = [("05/01/2024", "1.00")] * 250 + [("01/25/2024", "2.00")]
    result = run(_csv(rows), mapping=DATES, sample_rows=100, block_bytes=1024)
    assert result.summary.status == "accepted"
    assert result.column("value_date")[0] == date(2024, 5, 1)  # month-first, proven on line 252
    assert result.column("value_date")[-1] == date(2024, 1, 25)


def test_contradiction_after_the_window_fails_the_whole_file() -> None:
    rows = [("25/01/2024", "1.00")] * 250 + [("01/25/2024", "2.00")]
    result = run(_csv(rows), mapping=DATES, sample_rows=100, block_bytes=1024, on_error="skip")
    assert result.summary.status == "failed"
    assert result.problem_codes == ["date_format_contradictory"]
    problem = result.summary.problems[0]
    assert [(e.line, e.raw_value) for e in problem.examples] == [(2, "25/01/2024"), (252, "01/25/2024")]
    assert result.summary.rows_accepted == 0
    assert result.error_table() == [(252, "date", "date_invalid")]


def test_ambiguous_values_after_an_iso_only_window_fail_late() -> None:
    rows = [("2024-01-05", "1.00")] * 250 + [("05/01/2024", "2.00")]
    result = run(_csv(rows), mapping=DATES, sample_rows=100, block_bytes=1024)
    assert result.problem_codes == ["date_format_ambiguous"]
    assert [(e.line, e.raw_value) for e in result.summary.problems[0].examples] == [(252, "05/01/2024")]


def test_decimal_separator_comes_from_the_whole_column() -> None:
    data = "amount\n" + "1.234\n" * 200 + "1.234,5\n"
    result = run(data.encode(), mapping=mapping(amount="amount", currency={"fixed": "EUR"}), sample_rows=100,
                 block_bytes=256)
    assert result.summary.status == "accepted"
    assert result.column("amount") == [Decimal("1234")] * 200 + [Decimal("1234.5")]


def test_thousands_only_column_is_ambiguous() -> None:
    result = run(b"amount\n1.234\n2.500\n", mapping=mapping(amount="amount", currency={"fixed": "EUR"}))
    assert result.problem_codes == ["amount_format_ambiguous"]
    explicit = run(b"amount\n1.234\n2.500\n", mapping=mapping(
        amount={"column": "amount", "decimal_separator": ","}, currency={"fixed": "EUR"}))
    assert explicit.column("amount") == [Decimal("1234"), Decimal("2500")]


def test_mixed_separators_in_the_window_is_a_file_problem() -> None:
    result = run(b"amount\n1,5\n2.5\n", mapping=mapping(amount="amount", currency={"fixed": "EUR"}))
    assert result.problem_codes == ["amount_format_contradictory"]
    assert [(e.line, e.raw_value) for e in result.summary.problems[0].examples] == [(3, "2.5"), (2, "1,5")]


def test_value_contradicting_the_inferred_separator_later_is_a_row_error() -> None:
    data = "amount\n" + "1.50\n" * 150 + "2,50\n"
    result = run(data.encode(), mapping=mapping(amount="amount", currency={"fixed": "EUR"}), sample_rows=100,
                 block_bytes=256, on_error="skip")
    assert result.summary.status == "accepted"
    assert result.error_table() == [(152, "amount", "amount_invalid")]
    assert result.errors[0].message == ("'2,50' does not match the column's number format (decimal point '.', "
                                        "inferred from line 2: '1.50')")
    assert len(result.rows) == 150


def test_integer_only_window_reads_the_whole_column_before_deciding() -> None:
    data = "amount\n" + "100\n" * 150 + "12,50\n"
    result = run(data.encode(), mapping=mapping(amount="amount", currency={"fixed": "EUR"}), sample_rows=100,
                 block_bytes=256)
    assert result.summary.status == "accepted"
    assert result.column("amount")[-1] == Decimal("12.50")
