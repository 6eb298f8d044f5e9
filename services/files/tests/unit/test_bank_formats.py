"""camt.053 and MT940 samples written here, mapped straight to canonical fields."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from files_testkit import mapping, run


def _entry(amount: str, indicator: str, booked: str, *, valued: str | None = None, servicer: str | None = None,
           details: str = "", status: str = "<Sts>BOOK</Sts>") -> str:
    return (f"<Ntry><NtryRef>N-{servicer}</NtryRef><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>"
            f"{status}<BookgDt><Dt>{booked}</Dt></BookgDt>"
            + (f"<ValDt><Dt>{valued}</Dt></ValDt>" if valued else "")
            + (f"<AcctSvcrRef>{servicer}</AcctSvcrRef>" if servicer else "")
            + "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
            + (f"<NtryDtls>{details}</NtryDtls>" if details else "") + "</Ntry>\n")


CAMT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n'
    "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr>\n"
    "<Stmt><Id>S-2024-01</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>\n"
    + _entry("1234.56", "CRDT", "2024-01-05", valued="2024-01-06", servicer="R1", details=(
        "<TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs><RltdPties><Dbtr><Pty><Nm>ACME GmbH</Nm></Pty></Dbtr>"
        "<DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct><Cdtr><Pty><Nm>Us</Nm></Pty></Cdtr>"
        "</RltdPties><RmtInf><Ustrd>Invoice 4711</Ustrd><Strd><CdtrRefInf><Ref>RF18539007547034</Ref>"
        "</CdtrRefInf></Strd></RmtInf></TxDtls>"))
    + _entry("50.00", "DBIT", "2024-01-07", valued="2024-01-07", servicer="R2", details=(
        "<TxDtls><Refs><EndToEndId>PAY-77</EndToEndId></Refs><RltdPties><Dbtr><Pty><Nm>Us</Nm></Pty></Dbtr>"
        "<Cdtr><Pty><Nm>Power &amp; Light Ltd</Nm></Pty></Cdtr></RltdPties><RmtInf><Ustrd>Bill</Ustrd>"
        "<Ustrd>January</Ustrd></RmtInf></TxDtls>"))
    + _entry("99.90", "DBIT", "2024-01-08", servicer="R3", details=(
        "<TxDtls><Refs><EndToEndId>B-1</EndToEndId></Refs><RmtInf><Ustrd>part one</Ustrd></RmtInf></TxDtls>"
        "<TxDtls><Refs><EndToEndId>B-2</EndToEndId></Refs><RmtInf><Ustrd>part two</Ustrd></RmtInf></TxDtls>"),
        status="<Sts><Cd>BOOK</Cd></Sts>")
    + _entry("12,00", "DBIT", "2024-01-09", servicer="R4")
    + _entry("5.00", "XXXX", "2024-01-09", servicer="R5")
    + "</Stmt></BkToCstmrStmt></Document>\n"
)


def test_camt053_entries_become_canonical_rows() -> None:
    result = run(CAMT.encode(), filename="statement.xml", on_error="skip")
    assert result.summary.format is not None and result.summary.format.value == "camt053"
    assert result.table("line", "external_id", "amount", "currency", "booking_date", "value_date", "reference",
                        "counterparty", "description") == [
        (5, "R1", Decimal("1234.56"), "EUR", date(2024, 1, 5), date(2024, 1, 6), "RF18539007547034", "ACME GmbH",
         "Invoice 4711"),
        (6, "R2", Decimal("-50.00"), "EUR", date(2024, 1, 7), date(2024, 1, 7), "PAY-77", "Power & Light Ltd",
         "Bill January"),
        (7, "R3", Decimal("-99.90"), "EUR", date(2024, 1, 8), None, None, None, "part one part two"),
    ]
    extras = [json.loads(row.extras) for row in result.rows]
    assert extras[0] == {"account": "DE89370400440532013000", "bank_transaction_code": "PMNT/RCDT/ESCT",
                         "counterparty_iban": "DE02120300000000202051", "end_to_end_id": "E2E-1",
                         "entry_reference": "N-R1", "reversal": None, "statement_id": "S-2024-01", "status": "BOOK",
                         "transaction_count": 1}
    assert extras[2]["transaction_count"] == 2 and extras[2]["status"] == "BOOK"
    assert result.error_table() == [(8, "Ntry", "entry_invalid"), (9, "Ntry", "entry_invalid")]
    assert [e.message for e in result.errors] == ["entry at line 8: Amt '12,00' is not a decimal",
                                                  "entry at line 9: CdtDbtInd is 'XXXX', expected CRDT or DBIT"]


def test_camt_with_dtd_or_broken_xml_is_refused() -> None:
    evil = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "boom">]>'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>&x;</Stmt>'
            "</BkToCstmrStmt></Document>")
    assert run(evil.encode(), filename="s.xml").problem_codes == ["xml_invalid"]
    truncated = CAMT[: CAMT.index("<Ntry>", 600) + 40]
    result = run(truncated.encode(), filename="s.xml")
    assert result.summary.status == "failed" and result.problem_codes == ["xml_invalid"]


MT940 = (
    "{1:F01BANKDEFFAXXX0000000000}{2:O9401200240131BANKDEFFAXXX00000000002401311200N}{4:\n"
    ":20:STARTUMSE\n"
    ":25:10020030/1234567890\n"
    ":28C:00001/001\n"
    ":60F:C231229EUR1000,00\n"
    ":61:2401020102D12,50NTRFNONREF//B1234\n"
    ":86:166?00SEPA-UEBERWEISUNG?109310?20EREF+E2E-77?21SVWZ+Rechnung 4711 vom 0\n"
    "?221.01.2024?30BANKDEFF?31DE02120300000000202051?32Stadtwerke Muster?33 GmbH\n"
    ":61:2401031231C100,00NTRFINV-42//BANKREF2\n"
    "/OCMT/EUR100,00/\n"
    ":86:Payment received\n"
    "with thanks\n"
    ":61:2401040104RD5,NCHGNONREF\n"
    ":62F:C240104EUR1092,50\n"
    "-}\n"
    "{1:F01BANKDEFFAXXX0000000000}{4:\n"
    ":20:STMT2\n"
    ":25:10020030/1234567890\n"
    ":28C:00002/001\n"
    ":60F:C240104EUR1092,50\n"
    ":61:2401050105DR7,25NMSCNONREF\n"
    ":62F:C240105EUR1085,25\n"
    "-}\n"
)


def test_mt940_statement_lines_become_canonical_rows() -> None:
    result = run(MT940.encode("latin-1"), filename="statement.sta")
    assert result.summary.status == "accepted", result.summary.problems
    assert result.table("line", "external_id", "amount", "currency", "value_date", "booking_date", "reference",
                        "counterparty", "description") == [
        (6, "B1234", Decimal("-12.50"), "EUR", date(2024, 1, 2), date(2024, 1, 2), "E2E-77",
         "Stadtwerke Muster GmbH", "Rechnung 4711 vom 01.01.2024"),
        (9, "BANKREF2", Decimal("100.00"), "EUR", date(2024, 1, 3), date(2023, 12, 31), "INV-42", None,
         "Payment receivedwith thanks"),
        (13, None, Decimal("5"), "EUR", date(2024, 1, 4), date(2024, 1, 4), None, None, None),  # RD: money in
        (21, None, Decimal("-7.25"), "EUR", date(2024, 1, 5), date(2024, 1, 5), None, None, None),  # D + funds R
    ]
    extras = [json.loads(row.extras) for row in result.rows]
    assert extras[0]["posting_text"] == "SEPA-UEBERWEISUNG" and extras[0]["transaction_type"] == "NTRF"
    assert extras[1]["supplementary_details"] == "/OCMT/EUR100,00/"
    assert extras[3]["statement_number"] == "00002/001" and extras[3]["account"] == "10020030/1234567890"


def test_mt940_balance_mismatch_fails_the_file() -> None:
    broken = MT940.replace(":62F:C240104EUR1092,50", ":62F:C240104EUR1092,51")
    result = run(broken.encode(), filename="statement.sta", on_error="skip")
    assert result.summary.status == "failed"
    assert result.problem_codes == ["statement_balance_mismatch"]
    assert "1092.50" in result.summary.problems[0].message and "1092.51" in result.summary.problems[0].message


def test_mt940_bad_statement_line_is_a_row_error() -> None:
    broken = MT940.replace(":61:2401040104RD5,NCHGNONREF", ":61:24010X0104RD5,NCHGNONREF")
    result = run(broken.encode(), filename="statement.sta", on_error="skip")
    assert result.error_table() == [(13, ":61:", "statement_line_invalid")]
    assert result.summary.problems == ()  # the incomplete statement is not balance-checked
    assert len(result.rows) == 3


def test_bank_formats_accept_an_overriding_mapping() -> None:
    custom = mapping(external_id="customer_reference", amount={"column": "amount", "decimal_separator": "."},
                     currency="currency", value_date={"column": "value_date", "date_format": "YYYY-MM-DD"})
    result = run(MT940.encode(), filename="statement.sta", mapping=custom)
    assert result.column("external_id") == ["NONREF", "INV-42", "NONREF", "NONREF"]
    assert result.column("extras") == [None] * 4
