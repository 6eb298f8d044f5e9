"""SWIFT MT940 customer statements: one row per :61: statement line, :86: attached to it.

:61: = value date YYMMDD, optional entry date MMDD, mark C/D/RC/RD, optional funds code, amount
with a decimal comma, transaction type (e.g. NTRF), account owner's reference, optional //bank
reference, optional second line of supplementary details. C and RD (reversal of a debit) are money
in; D and RC are money out. The entry (booking) date takes the year that puts it closest to the
value date (a statement line valued 2024-01-02 with entry date 1231 was booked 2023-12-31).
Structured :86: (German "?20...?32" sub-fields) gives counterparty (?32/?33), remittance text
(?20-?29, ?60-?63; SVWZ+ preferred) and EREF+. Each statement's opening balance plus its lines
must equal its closing balance, otherwise the file fails: a line is missing or corrupt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import BinaryIO

from files.domain.dates import full_year
from files.domain.dialect import split_lines
from files.domain.errors import ErrorCode, FileProblem, RowError, file_rejected
from files.domain.mapping import ColumnMapping, FileFormat, ParseOptions
from files.domain.raw import RawBatch, batch_from_cells
from files.domain.sources import SimpleSource
from files.domain.text_source import DetectedEncoding, detect_encoding, iter_text_blocks, read_sample

COLUMNS = ("bank_reference", "amount", "currency", "value_date", "booking_date", "reference", "counterparty",
           "description", "customer_reference", "end_to_end_id", "transaction_type", "posting_text",
           "supplementary_details", "account", "statement_number", "information")
_CHUNK_LINES = 10_000

DEFAULT_MAPPING = ColumnMapping.model_validate({
    "external_id": "bank_reference",
    "amount": {"column": "amount", "decimal_separator": "."},
    "currency": {"column": "currency"},
    "value_date": {"column": "value_date", "date_format": "YYYY-MM-DD"},
    "booking_date": {"column": "booking_date", "date_format": "YYYY-MM-DD", "required": False},
    "reference": "reference", "counterparty": "counterparty", "description": "description",
    "extras": {name: {"column": name} for name in (
        "customer_reference", "end_to_end_id", "transaction_type", "posting_text", "supplementary_details",
        "account", "statement_number")},
})

# A tag opens a field: ":61:", ":28C:", ":60F:".
_TAG = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
_STATEMENT_LINE = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?(?P<amount>\d[\d,]{0,14})"
    r"(?P<type>[NFS][A-Z0-9]{3})(?P<customer>.*?)(?://(?P<bank>.*))?$")
_BALANCE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<currency>[A-Z]{3})(?P<amount>\d[\d,]{0,14})$")
_AMOUNT = re.compile(r"^\d+,\d*$")
_SUBFIELD = re.compile(r"\?(\d{2})")
_SEPA_KEYS = re.compile(r"(EREF|KREF|MREF|CRED|SVWZ|ABWA|ABWE|IBAN|BIC)\+")


@dataclass(slots=True)
class _Entry:
    line: int
    text: str
    details: list[str] = field(default_factory=list)
    information: list[str] | None = None


@dataclass(slots=True)
class _Statement:
    start_line: int
    reference: str | None = None
    account: str | None = None
    number: str | None = None
    currency: str | None = None
    opening: Decimal | None = None
    total: Decimal = Decimal(0)
    complete: bool = True  # every :61: of this statement became a row


def swift_amount(text: str) -> str | None:
    """"1234,56" -> "1234.56"; None when it isn't a SWIFT amount."""
    if not _AMOUNT.match(text):
        return None
    whole, fraction = text.split(",")
    return f"{int(whole)}.{fraction}" if fraction else str(int(whole))


def swift_date(text: str) -> date | None:
    try:
        return date(full_year(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def entry_date(value_date: date, month_day: str) -> date | None:
    candidates = []
    for year in (value_date.year - 1, value_date.year, value_date.year + 1):
        try:
            candidates.append(date(year, int(month_day[:2]), int(month_day[2:])))
        except ValueError:
            continue
    return min(candidates, key=lambda d: abs((d - value_date).days)) if candidates else None


def parse_information(text: str) -> dict[str, str | None]:
    """:86: -> posting text, counterparty, remittance and end-to-end reference where it's structured."""
    parts = _SUBFIELD.split(text)
    if len(parts) < 3 or not re.match(r"^\d{3}$", parts[0].strip()):
        return {"description": text.strip() or None, "counterparty": None, "end_to_end_id": None,
                "posting_text": None}
    fields: dict[str, str] = {}
    for code, value in zip(parts[1::2], parts[2::2], strict=True):
        fields[code] = fields.get(code, "") + value
    purpose = "".join(fields.get(f"{n:02d}", "") for n in [*range(20, 30), *range(60, 64)])
    sepa = {m.group(1): m for m in _SEPA_KEYS.finditer(purpose)}
    def sepa_value(key: str) -> str | None:
        match = sepa.get(key)
        if match is None:
            return None
        following = [m.start() for m in _SEPA_KEYS.finditer(purpose) if m.start() > match.start()]
        return purpose[match.end(): following[0] if following else None].strip() or None
    counterparty = (fields.get("32", "") + fields.get("33", "")).strip() or None
    return {"description": sepa_value("SVWZ") or purpose.strip() or None, "counterparty": counterparty,
            "end_to_end_id": sepa_value("EREF"), "posting_text": fields.get("00", "").strip() or None}


class _Reader:
    def __init__(self) -> None:
        self.statement: _Statement | None = None
        self.entry: _Entry | None = None
        self.tag: str | None = None
        self.rows: list[tuple[int, list[object]]] = []
        self.errors: list[RowError] = []
        self.problems: list[FileProblem] = []
        self.statements = 0

    def feed(self, line_number: int, raw_line: str) -> None:
        line = raw_line.rstrip("\r\n")
        stripped = line.strip()
        if stripped.startswith("{"):  # SWIFT block headers "{1:...}{2:...}{4:"; the text follows "{4:"
            stripped = stripped.split("{4:", 1)[1].strip() if "{4:" in stripped else ""
        if stripped in ("-", "-}", "}") or not stripped:
            self._emit()
            self.tag = None
            return
        match = _TAG.match(stripped)
        if match is None:
            self._continue_field(line_number, stripped)
            return
        tag, content = match.groups()
        # Only a :86: right after its :61: belongs to that line; any other tag ends the pending line.
        if not (tag == "86" and self.tag == "61" and self.entry is not None):
            self._emit()
        self.tag = tag
        handler = {"20": self._start_statement, "25": self._account, "28C": self._number, "61": self._entry_start,
                   "86": self._information}.get(tag)
        if tag in ("60F", "60M"):
            self._opening(line_number, content)
        elif tag in ("62F", "62M"):
            self._closing(line_number, content)
        elif handler is not None:
            handler(line_number, content)

    def _start_statement(self, line_number: int, content: str) -> None:
        self.statement = _Statement(start_line=line_number, reference=content.strip() or None)
        self.statements += 1

    def _account(self, _line: int, content: str) -> None:
        if self.statement is not None:
            self.statement.account = content.strip() or None

    def _number(self, _line: int, content: str) -> None:
        if self.statement is not None:
            self.statement.number = content.strip() or None

    def _balance(self, line_number: int, content: str, what: str) -> tuple[str, Decimal] | None:
        match = _BALANCE.match(content.strip())
        amount = swift_amount(match.group("amount")) if match else None
        if match is None or amount is None:
            self.problems.append(FileProblem(code=ErrorCode.STATEMENT_INVALID,
                                             message=f"line {line_number}: {what} {content!r} is not a balance"))
            return None
        signed = Decimal(amount) * (-1 if match.group("mark") == "D" else 1)
        return match.group("currency"), signed

    def _opening(self, line_number: int, content: str) -> None:
        if self.statement is None:
            self._start_statement(line_number, "")
        assert self.statement is not None
        balance = self._balance(line_number, content, "opening balance")
        if balance is not None:
            self.statement.currency, self.statement.opening = balance

    def _closing(self, line_number: int, content: str) -> None:
        statement = self.statement
        balance = self._balance(line_number, content, "closing balance")
        if statement is None or balance is None or statement.opening is None or not statement.complete:
            return
        expected = statement.opening + statement.total
        if balance[1] != expected:
            self.problems.append(FileProblem(
                code=ErrorCode.STATEMENT_BALANCE_MISMATCH,
                message=(f"statement {statement.reference or statement.start_line}: opening balance "
                         f"{statement.opening} plus its lines makes {expected}, but the closing balance at line "
                         f"{line_number} is {balance[1]}; a line is missing or corrupt")))

    def _entry_start(self, line_number: int, content: str) -> None:
        self.entry = _Entry(line=line_number, text=content.strip())

    def _information(self, _line: int, content: str) -> None:
        if self.entry is not None:
            self.entry.information = [content]
        else:
            self.tag = None  # statement-level :86:, not part of any line

    def _continue_field(self, _line: int, text: str) -> None:
        if self.tag == "61" and self.entry is not None:
            self.entry.details.append(text)
        elif self.tag == "86" and self.entry is not None and self.entry.information is not None:
            self.entry.information.append(text)

    def finish(self) -> None:
        self._emit()

    def _emit(self) -> None:
        entry, self.entry = self.entry, None
        if entry is None:
            return
        statement = self.statement
        match = _STATEMENT_LINE.match(entry.text)
        amount = swift_amount(match.group("amount")) if match else None
        value = swift_date(match.group("value")) if match else None
        problem = None
        if statement is None or statement.currency is None:
            problem = "comes before any opening balance (:60F:), so its currency is unknown"
        elif match is None:
            problem = "is not a valid :61: statement line"
        elif amount is None:
            problem = f"has the amount {match.group('amount')!r}, which is not a SWIFT amount"
        elif value is None:
            problem = f"has the value date {match.group('value')!r}, which is not a date"
        if problem is not None or match is None or value is None or amount is None or statement is None:
            if statement is not None:
                statement.complete = False
            self.errors.append(RowError(line=entry.line, column=":61:", raw_value=entry.text,
                                        code=ErrorCode.STATEMENT_LINE_INVALID, message=f"line {entry.line} {problem}"))
            return
        booked = entry_date(value, match.group("entry")) if match.group("entry") else None
        negative = match.group("mark") in ("D", "RC")
        statement.total += Decimal(amount) * (-1 if negative else 1)
        info_text = "".join(entry.information) if entry.information else ""
        info = parse_information(info_text) if info_text else {}
        customer = match.group("customer").strip() or None
        bank = (match.group("bank") or "").strip() or None
        end_to_end = info.get("end_to_end_id")
        reference = customer if customer and customer != "NONREF" else (
            end_to_end if end_to_end and end_to_end != "NOTPROVIDED" else None)
        self.rows.append((entry.line, [
            bank if bank != "NONREF" else None, f"-{amount}" if negative else amount, statement.currency,
            value.isoformat(), booked.isoformat() if booked else None, reference, info.get("counterparty"),
            info.get("description"), customer, end_to_end, match.group("type"), info.get("posting_text"),
            " ".join(entry.details) or None, statement.account, statement.number, info_text or None]))


def open_mt940(stream: BinaryIO, options: ParseOptions) -> SimpleSource:
    encoding = detect_encoding(read_sample(stream), options.encoding)
    source = SimpleSource(format=FileFormat.MT940, columns=COLUMNS, details={"encoding": encoding.label},
                          default_mapping=DEFAULT_MAPPING, reader=lambda: iter(()))
    source.reader = lambda: _batches(stream, encoding, options, source.problems)
    return source


def _batches(stream: BinaryIO, encoding: DetectedEncoding, options: ParseOptions,
             problems: list[FileProblem]) -> Iterator[RawBatch]:
    problems.clear()  # a second pass re-finds them
    reader = _Reader()
    for block in iter_text_blocks(stream, encoding, block_chars=options.block_bytes, quote=None):
        for offset, line in enumerate(split_lines(block.text)):
            number = block.first_line + offset
            if number in block.bad_lines:
                reader.errors.append(RowError(line=number, column=None, raw_value=None,
                                              code=ErrorCode.ENCODING_INVALID,
                                              message=f"line {number} holds bytes that are not valid in the "
                                                      "file's encoding"))
                if reader.statement is not None:
                    reader.statement.complete = False
                continue
            reader.feed(number, line)
        if len(reader.rows) >= _CHUNK_LINES:
            yield batch_from_cells(COLUMNS, reader.rows, reader.errors)
            reader.rows, reader.errors = [], []
    reader.finish()
    if reader.statements == 0:
        raise file_rejected(ErrorCode.STATEMENT_INVALID, "no MT940 statement (:20: ... :62F:) was found")
    problems.extend(reader.problems)
    yield batch_from_cells(COLUMNS, reader.rows, reader.errors)
