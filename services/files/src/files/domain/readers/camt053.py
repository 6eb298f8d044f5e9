"""ISO 20022 camt.053 (also camt.052/054) via defusedxml, streamed one <Ntry> at a time.

One row per entry (Ntry): the booked amount, signed by CdtDbtInd (DBIT = money out = negative).
Counterparty: for a credit the debtor paid us (Dbtr), for a debit we paid the creditor (Cdtr).
Reference: the structured creditor reference (Strd/CdtrRefInf/Ref), else the end-to-end id unless
"NOTPROVIDED". A batch entry with several TxDtls keeps its amount; references and parties that
differ per transaction are left empty and transaction_count says how many there were.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from files.domain.errors import ErrorCode, RowError, file_rejected
from files.domain.mapping import ColumnMapping, FileFormat, ParseOptions
from files.domain.raw import RawBatch, batch_from_cells
from files.domain.sources import SimpleSource

COLUMNS = ("account_servicer_reference", "amount", "currency", "booking_date", "value_date", "reference",
           "counterparty", "description", "entry_reference", "end_to_end_id", "status", "bank_transaction_code",
           "counterparty_iban", "account", "statement_id", "reversal", "transaction_count")
_STATEMENTS = frozenset({"Stmt", "Rpt", "Ntfctn"})
_CHUNK_ENTRIES = 10_000

DEFAULT_MAPPING = ColumnMapping.model_validate({
    "external_id": "account_servicer_reference",
    "amount": {"column": "amount", "decimal_separator": "."},
    "currency": {"column": "currency"},
    "booking_date": {"column": "booking_date", "date_format": "YYYY-MM-DD", "required": False},
    "value_date": {"column": "value_date", "date_format": "YYYY-MM-DD", "required": False},
    "reference": "reference", "counterparty": "counterparty", "description": "description",
    "extras": {name: {"column": name, "type": kind} for name, kind in (
        ("entry_reference", "text"), ("end_to_end_id", "text"), ("status", "text"),
        ("bank_transaction_code", "text"), ("counterparty_iban", "text"), ("account", "text"),
        ("statement_id", "text"), ("reversal", "boolean"), ("transaction_count", "integer"))},
})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element | None, path: str) -> ET.Element | None:
    """Namespace-blind path lookup ("A/B/C")."""
    for step in path.split("/"):
        if element is None:
            return None
        element = next((child for child in element if _local(child.tag) == step), None)
    return element


def _text(element: ET.Element | None, path: str) -> str | None:
    found = _find(element, path)
    text = found.text.strip() if found is not None and found.text else ""
    return text or None


def _all(element: ET.Element | None, name: str) -> list[ET.Element]:
    return [child for child in element.iter() if _local(child.tag) == name] if element is not None else []


class _Target:
    """Receives parser events; builds a small tree per <Ntry> and reads the statement's Id and account."""

    def __init__(self) -> None:
        self.parser: DefusedXMLParser | None = None
        self.path: list[str] = []
        self.entry: ET.TreeBuilder | None = None
        self.entry_line = 0
        self.statement_depth: int | None = None
        self.text: list[str] = []
        self.rows: list[tuple[int, list[object]]] = []
        self.errors: list[RowError] = []
        self.statement_id: str | None = None
        self.account: str | None = None
        self.saw_statement = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if self.entry is not None:
            self.entry.start(tag, attrs)
        elif name == "Ntry" and self.statement_depth is not None:
            assert self.parser is not None
            self.entry_line = self.parser.parser.CurrentLineNumber
            self.entry = ET.TreeBuilder()
            self.entry.start(tag, attrs)
        elif name in _STATEMENTS:
            self.saw_statement = True
            self.statement_depth = len(self.path) + 1
            self.statement_id = self.account = None
        self.path.append(name)
        self.text = []

    def end(self, tag: str) -> None:
        name = self.path.pop()
        if self.entry is not None:
            self.entry.end(tag)
            if name == "Ntry":
                self._entry(self.entry.close())
                self.entry = None
            return
        if self.statement_depth is None:
            return
        if name in _STATEMENTS and len(self.path) + 1 == self.statement_depth:
            self.statement_depth = None
            return
        relative = [*self.path[self.statement_depth:], name]
        text = "".join(self.text).strip() or None
        if relative == ["Id"]:
            self.statement_id = text
        elif relative in (["Acct", "Id", "IBAN"], ["Acct", "Id", "Othr", "Id"]):
            self.account = text

    def data(self, text: str) -> None:
        if self.entry is not None:
            self.entry.data(text)
        else:
            self.text.append(text)

    def close(self) -> None:
        return None

    def _entry(self, entry: ET.Element) -> None:
        line = self.entry_line
        amount_element = _find(entry, "Amt")
        indicator = _text(entry, "CdtDbtInd")
        amount_text = (amount_element.text or "").strip() if amount_element is not None else ""
        currency = amount_element.get("Ccy") if amount_element is not None else None
        problem = None
        if not amount_text:
            problem = "the entry has no Amt"
        elif indicator not in ("CRDT", "DBIT"):
            problem = f"CdtDbtInd is {indicator!r}, expected CRDT or DBIT"
        else:
            try:
                if Decimal(amount_text) < 0 or not amount_text.replace(".", "", 1).isdigit():
                    problem = f"Amt {amount_text!r} is not an unsigned decimal"
            except InvalidOperation:
                problem = f"Amt {amount_text!r} is not a decimal"
        if problem is not None:
            self.errors.append(RowError(line=line, column="Ntry", raw_value=amount_text or None,
                                        code=ErrorCode.ENTRY_INVALID, message=f"entry at line {line}: {problem}"))
            return
        details = _all(entry, "TxDtls")
        single = details[0] if len(details) == 1 else None
        party = "Dbtr" if indicator == "CRDT" else "Cdtr"
        parties = _find(single, "RltdPties")
        name = _text(parties, f"{party}/Nm") or _text(parties, f"{party}/Pty/Nm")
        iban = _text(parties, f"{party}Acct/Id/IBAN")
        end_to_end = _text(single, "Refs/EndToEndId")
        creditor_reference = _text(single, "RmtInf/Strd/CdtrRefInf/Ref")
        reference = creditor_reference or (end_to_end if end_to_end and end_to_end != "NOTPROVIDED" else None)
        unstructured = [text.strip() for d in details for u in _all(d, "Ustrd") if (text := u.text or "").strip()]
        description = " ".join(unstructured) or _text(single, "AddtlTxInf") or _text(entry, "AddtlNtryInf")
        servicer_ref = _text(entry, "AcctSvcrRef") or _text(single, "Refs/AcctSvcrRef") or _text(entry, "NtryRef")
        status = _text(entry, "Sts/Cd") or _text(entry, "Sts")
        domain = _text(entry, "BkTxCd/Domn/Cd")
        family = _text(entry, "BkTxCd/Domn/Fmly/Cd")
        sub_family = _text(entry, "BkTxCd/Domn/Fmly/SubFmlyCd")
        code = "/".join(p for p in (domain, family, sub_family) if p) or _text(entry, "BkTxCd/Prtry/Cd")
        signed = f"-{amount_text}" if indicator == "DBIT" else amount_text
        booking = _text(entry, "BookgDt/Dt") or _text(entry, "BookgDt/DtTm")
        value = _text(entry, "ValDt/Dt") or _text(entry, "ValDt/DtTm")
        self.rows.append((line, [servicer_ref, signed, currency, booking, value, reference, name, description,
                                 _text(entry, "NtryRef"), end_to_end, status, code, iban, self.account,
                                 self.statement_id, _text(entry, "RvslInd"), len(details) or None]))


def open_camt053(stream: BinaryIO, options: ParseOptions) -> SimpleSource:
    return SimpleSource(format=FileFormat.CAMT053, columns=COLUMNS, details={"standard": "ISO 20022 camt.05x"},
                        default_mapping=DEFAULT_MAPPING, reader=lambda: _batches(stream))


def _batches(stream: BinaryIO) -> Iterator[RawBatch]:
    stream.seek(0)
    target = _Target()
    parser = DefusedXMLParser(target=target, forbid_dtd=True)
    target.parser = parser
    try:
        while chunk := stream.read(256 * 1024):
            parser.feed(chunk)
            if len(target.rows) >= _CHUNK_ENTRIES:
                yield batch_from_cells(COLUMNS, target.rows, target.errors)
                target.rows, target.errors = [], []
        parser.close()
    except (ET.ParseError, DefusedXmlException) as error:
        line = parser.parser.CurrentLineNumber
        raise file_rejected(ErrorCode.XML_INVALID, f"the XML is not well-formed or not allowed near line "
                                                   f"{line}: {error}") from None
    if not target.saw_statement:
        raise file_rejected(ErrorCode.STATEMENT_INVALID, "the XML has no Stmt (or Rpt/Ntfctn) element")
    yield batch_from_cells(COLUMNS, target.rows, target.errors)
