"""CSV/TSV files as users upload them: encodings, delimiters, locales, preambles, broken lines."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date
from decimal import Decimal
from typing import Literal

from files_testkit import mapping, run
from hypothesis import given, settings
from hypothesis import strategies as st

from files.domain.readers.csv_reader import _BlockTokenizer
from files.domain.text_source import TextBlock, count_lines

GERMAN = (
    "Umsatzanzeige;;;;\n"
    "Konto;DE89370400440532013000;;;\n"
    "Zeitraum;01.01.2024 - 31.01.2024;;;\n"
    "\n"
    "Buchungstag;Valuta;Empfänger;Verwendungszweck;Betrag;Währung\n"
    '02.01.2024;03.01.2024;Müller GmbH;"Miete; Januar";-1.234,56;EUR\n'
    "04.01.2024;04.01.2024;Bäckerei Öz;Brötchen;-3,50;EUR\n"
    "05.01.2024;05.01.2024;Gehalt AG;Lohn 01/2024;2.500,00;EUR\n"
)
GERMAN_MAPPING = mapping(booking_date="Buchungstag", value_date="Valuta", counterparty="Empfänger",
                         description="Verwendungszweck", amount="Betrag", currency="Währung")
GERMAN_ROWS = [
    (6, Decimal("-1234.56"), "EUR", date(2024, 1, 3), date(2024, 1, 2), "Müller GmbH", "Miete; Januar"),
    (7, Decimal("-3.50"), "EUR", date(2024, 1, 4), date(2024, 1, 4), "Bäckerei Öz", "Brötchen"),
    (8, Decimal("2500.00"), "EUR", date(2024, 1, 5), date(2024, 1, 5), "Gehalt AG", "Lohn 01/2024"),
]
FIELDS = ("line", "amount", "currency", "value_date", "booking_date", "counterparty", "description")


def _german(delimiter: str = ";") -> str:
    if delimiter == ";":
        return GERMAN
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(
        csv.reader(io.StringIO(GERMAN), delimiter=";"))
    return out.getvalue()


def test_german_cp1252_statement_with_preamble() -> None:
    result = run(_german().encode("cp1252"), mapping=GERMAN_MAPPING)
    assert result.summary.status == "accepted"
    assert result.summary.details["encoding"] == "windows-1252"
    assert result.summary.details["delimiter"] == ";"
    assert result.summary.details["header_line"] == 5
    assert result.summary.details["preamble_lines"] == [1, 2, 3]
    assert result.table(*FIELDS) == GERMAN_ROWS
    assert result.column("external_id") == [None, None, None]
    assert result.errors == []
    assert (result.summary.rows_read, result.summary.rows_accepted) == (3, 3)


def test_every_encoding_gives_the_same_rows() -> None:
    text = _german()
    encoded = {
        "UTF-8": text.encode("utf-8"),
        "UTF-8 (BOM)": codecs.BOM_UTF8 + text.encode("utf-8"),
        "UTF-16LE (BOM)": codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        "UTF-16BE (BOM)": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        "windows-1252": text.encode("cp1252"),
    }
    for label, data in encoded.items():
        result = run(data, mapping=GERMAN_MAPPING)
        assert result.summary.details["encoding"] == label
        assert result.table(*FIELDS) == GERMAN_ROWS, label


def test_latin1_bytes_cp1252_cannot_decode_fall_back_to_latin1() -> None:
    data = "Name,Amount,Currency\nZ\x81rich,1.00,CHF\n".encode("latin-1")
    result = run(data, mapping=mapping(counterparty="Name", amount="Amount", currency="Currency"))
    assert result.summary.details["encoding"] == "ISO-8859-1"
    assert result.table("counterparty", "amount") == [("Z\x81rich", Decimal("1.00"))]


def test_every_delimiter_is_sniffed() -> None:
    for delimiter in (",", ";", "\t", "|"):
        result = run(_german(delimiter).encode("utf-8"), mapping=GERMAN_MAPPING)
        assert result.summary.details["delimiter"] == delimiter
        assert result.table(*FIELDS) == GERMAN_ROWS


def test_us_export_with_quoted_thousands_and_month_first_dates() -> None:
    data = (
        "Date,Description,Amount,Reference\r\n"
        '01/05/2024,"Coffee, large","$4.50",R-1\r\n'
        '01/13/2024,Rent,"-$1,234.56",R-2\r\n'
        '02/01/2024,"Refund ""duplicate""","$1,000.00",R-3\r\n'
    ).encode("utf-8-sig")
    result = run(data, mapping=mapping(value_date="Date", description="Description", amount="Amount",
                                       reference="Reference", currency={"fixed": "USD"}))
    assert result.summary.status == "accepted"
    assert result.table("line", "value_date", "amount", "currency", "description", "reference") == [
        (2, date(2024, 1, 5), Decimal("4.50"), "USD", "Coffee, large", "R-1"),
        (3, date(2024, 1, 13), Decimal("-1234.56"), "USD", "Rent", "R-2"),
        (4, date(2024, 2, 1), Decimal("1000.00"), "USD", 'Refund "duplicate"', "R-3"),
    ]


def test_dollar_without_a_dollar_currency_is_an_error_not_a_guess() -> None:
    data = b"Date,Amount\n2024-01-05,$4.50\n2024-01-06,4.50\n"
    result = run(data, mapping=mapping(value_date="Date", amount="Amount"), on_error="skip")
    assert result.error_table() == [(2, "Amount", "currency_ambiguous"), (3, "Amount", "required_missing")]
    assert result.rows == []


def test_multiline_quoted_fields_keep_physical_line_numbers() -> None:
    data = (
        b'id,text,amount\n'
        b'1,"first\nsecond\nthird",1.00\n'
        b'2,plain,2.00\n'
        b'\n'
        b'3,"a\r\nb",3.00\n'
        b'4,after,4.00\n'
    )
    result = run(data, mapping=mapping(external_id="id", description="text", amount="amount",
                                       currency={"fixed": "EUR"}))
    assert result.table("line", "external_id", "description", "amount") == [
        (2, "1", "first\nsecond\nthird", Decimal("1.00")), (5, "2", "plain", Decimal("2.00")),
        (7, "3", "a\r\nb", Decimal("3.00")), (9, "4", "after", Decimal("4.00")),
    ]


def test_a_lone_carriage_return_inside_quotes_is_kept_and_does_not_break_sniffing() -> None:
    # Seen in exports from old Mac tools: the delimiter sniffer used to crash on it for the wrong
    # delimiters (for them the field is unquoted), failing the whole ingestion.
    data = b'id,text,amount\n1,"abc\rdef",1.00\n2,plain,2.00\n'
    result = run(data, mapping=mapping(external_id="id", description="text", amount="amount",
                                       currency={"fixed": "EUR"}))
    assert result.summary.status == "accepted"
    assert result.summary.details["delimiter"] == ","
    assert result.table("external_id", "description", "amount") == [
        ("1", "abc\rdef", Decimal("1.00")), ("2", "plain", Decimal("2.00")),
    ]


def test_broken_lines_are_reported_with_their_line_numbers() -> None:
    data = (
        b"id;amount;currency\r\n"
        b"1;1,00;EUR\r\n"
        b"2;2,00\r\n"  # too few fields
        b"3;3,00;EUR;extra\r\n"  # too many
        b'4;"4,00;EUR\r\n'  # a quote never closed: it runs to the end of the file, and says so
        b"5;5,00;EUR\r\n"
    )
    result = run(data, mapping=mapping(external_id="id", amount="amount", currency="currency"), on_error="skip")
    assert result.summary.status == "accepted"
    assert result.error_table() == [(3, None, "row_width_mismatch"), (4, None, "row_width_mismatch"),
                                    (5, None, "csv_malformed")]
    assert [e.message for e in result.errors] == [
        "line 3 has 2 fields, the header has 3", "line 4 has 4 fields, the header has 3",
        "lines 5-6 cannot be read as CSV (unexpected end of data); check the quotes"]
    assert result.table("line", "external_id", "amount") == [(2, "1", Decimal("1.00"))]
    assert (result.summary.rows_read, result.summary.rows_accepted, result.summary.rows_with_errors) == (4, 1, 3)


def test_invalid_utf8_byte_is_an_error_on_its_line_never_replaced() -> None:
    data = b"id,name,amount\n1,ok,1.00\n2,bad \xff byte,2.00\n3,ok,3.00\n"
    options = {"encoding": "utf-8", "on_error": "skip"}
    result = run(data, mapping=mapping(external_id="id", counterparty="name", amount="amount",
                                       currency={"fixed": "EUR"}), **options)
    assert result.error_table() == [(3, None, "encoding_invalid")]
    assert result.table("line", "counterparty") == [(2, "ok"), (4, "ok")]
    rejected = run(data, mapping=mapping(external_id="id", amount="amount", currency={"fixed": "EUR"}),
                   encoding="utf-8")
    assert rejected.summary.status == "rejected"
    assert rejected.rows == []


def test_bad_utf8_beyond_the_detection_sample_is_still_reported() -> None:
    body = "".join(f"{i},name {i},{i}.00\n" for i in range(1, 20_001))
    data = ("id,name,amount\n" + body).encode("utf-8") + b"20001,na\xc3me,1.00\n"
    result = run(data, mapping=mapping(external_id="id", amount="amount", currency={"fixed": "EUR"}),
                 on_error="skip", block_bytes=65536)
    assert result.summary.details["encoding"] == "UTF-8"
    assert result.error_table() == [(20_002, None, "encoding_invalid")]
    assert len(result.rows) == 20_000
    assert result.rows[-1].line == 20_001 and result.rows[-1].amount == Decimal("20000.00")


def test_headerless_file_uses_positional_names_and_header_line_option_overrides() -> None:
    data = b"2024-01-05,12.50,EUR\n2024-01-06,-3.00,EUR\n"
    result = run(data, mapping=mapping(value_date="column_1", amount="column_2", currency="column_3"))
    assert result.table("line", "value_date", "amount") == [(1, date(2024, 1, 5), Decimal("12.50")),
                                                           (2, date(2024, 1, 6), Decimal("-3.00"))]
    titled = b"Report 2024\nsome words,here\nd,a,c\n2024-01-05,12.50,EUR\n"
    chosen = run(titled, mapping=mapping(value_date="d", amount="a", currency="c"), header_line=3)
    assert chosen.table("line", "amount") == [(4, Decimal("12.50"))]


def test_missing_column_is_a_file_problem_naming_the_columns() -> None:
    result = run(b"a,b\n1,2\n", mapping=mapping(amount="Amount", currency={"fixed": "EUR"}))
    assert result.summary.status == "failed"
    assert result.problem_codes == ["column_not_found"]
    assert "'a', 'b'" in result.summary.problems[0].message


def test_header_without_rows_and_empty_file() -> None:
    assert run(b"id,amount\n", mapping=mapping(amount="amount", currency={"fixed": "EUR"})).problem_codes == [
        "no_data_rows"]
    assert run(b"", mapping=mapping(amount="amount", currency={"fixed": "EUR"})).problem_codes == ["file_empty"]


# -- property: the polars fast path tokenises exactly like Python's csv module --

# Mostly plain cells (the fast path's domain) with some delimiters, quotes and line breaks.
_CELL = st.text(alphabet=st.sampled_from(list("ab1 .-") * 8 + list(",;\"\n\r")), max_size=8)


def _tokenizers(width: int) -> _BlockTokenizer:
    return _BlockTokenizer(",", tuple(f"c{i}" for i in range(width)))


@given(data=st.data(), quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]), width=st.integers(1, 4),
       crlf=st.booleans(), breaks=st.booleans())
@settings(max_examples=200, deadline=None)
def test_fast_tokenizer_equals_python_csv(data: st.DataObject, quoting: Literal[0, 1], width: int, crlf: bool,
                                          breaks: bool) -> None:
    cell = _CELL if breaks else _CELL.map(lambda text: text.replace("\n", "").replace("\r", ""))
    rows = data.draw(st.lists(st.lists(cell, min_size=1, max_size=width + (1 if breaks else 0)), min_size=1,
                              max_size=25))
    out = io.StringIO()
    csv.writer(out, quoting=quoting, lineterminator="\r\n" if crlf else "\n").writerows(rows)
    text = out.getvalue()
    block = TextBlock(text=text, first_line=7, line_count=count_lines(text), bad_lines=frozenset())
    tokenizer = _tokenizers(width)
    fast = tokenizer._fast(block)
    slow = tokenizer._slow(block)
    if fast is None:
        return  # the fast path declined; the slow path is then the only answer
    assert fast.frame.to_dicts() == slow.frame.to_dicts()
    assert [(e.line, e.code) for e in fast.errors] == [(e.line, e.code) for e in slow.errors]


_ESCAPED = "\\\t\r\n"  # what storage escapes in the COPY stream


@given(rows=st.lists(st.lists(st.text(alphabet=st.sampled_from(list("ab1 ,\"") + list(_ESCAPED)), max_size=6),
                              min_size=2, max_size=2), min_size=1, max_size=10),
       crlf=st.booleans())
@settings(max_examples=200, deadline=None)
def test_a_batch_that_may_not_hold_escapes_holds_none(rows: list[list[str]], crlf: bool) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows(rows)
    text = out.getvalue()
    batch = _tokenizers(2).tokenize(TextBlock(text=text, first_line=1, line_count=count_lines(text),
                                              bad_lines=frozenset()))
    if not batch.may_hold_escapes:
        values = [value for row in batch.frame.drop("__line").rows() for value in row if value is not None]
        assert not any(char in value for value in values for char in _ESCAPED)


def test_only_blocks_that_could_hold_escapes_say_so() -> None:
    def flag(text: str) -> bool:
        block = TextBlock(text=text, first_line=1, line_count=count_lines(text), bad_lines=frozenset())
        return _tokenizers(2).tokenize(block).may_hold_escapes

    assert (flag("a,b\r\nc,d\r\n"), flag("a,b\\c\n"), flag('a,"b"\n'), flag("a,b\tc\n")) == (
        False, True, True, True)


def test_clean_blocks_take_the_fast_path() -> None:
    text = 'a,"b, with comma",1.00\r\n"x","y ""q""",2.00\r\nshort,row\r\n'
    block = TextBlock(text=text, first_line=2, line_count=3, bad_lines=frozenset())
    batch = _tokenizers(3)._fast(block)
    assert batch is not None
    assert batch.frame.rows() == [(2, "a", "b, with comma", "1.00"), (3, "x", 'y "q"', "2.00")]
    assert [(e.line, e.code.value, e.message) for e in batch.errors] == [
        (4, "row_width_mismatch", "line 4 has 2 fields, the header has 3")]


def test_french_and_swiss_number_styles() -> None:
    french = ("Date;Libellé;Montant;Devise\n"
              "05/01/2024;Loyer;-1\u202f234,56;EUR\n"
              "25/01/2024;Salaire;2 500,00;EUR\n").encode("utf-8")
    result = run(french, mapping=mapping(value_date="Date", description="Libellé", amount="Montant",
                                         currency="Devise"))
    assert result.table("value_date", "amount") == [(date(2024, 1, 5), Decimal("-1234.56")),
                                                   (date(2024, 1, 25), Decimal("2500.00"))]
    swiss = ("Valuta,Betrag,Währung\n"
             "05.01.2024,\"1'234.56\",CHF\n"
             "06.01.2024,-12.05,CHF\n").encode()
    result = run(swiss, mapping=mapping(value_date="Valuta", amount="Betrag", currency="Währung"))
    assert result.table("value_date", "amount", "currency") == [(date(2024, 1, 5), Decimal("1234.56"), "CHF"),
                                                               (date(2024, 1, 6), Decimal("-12.05"), "CHF")]
