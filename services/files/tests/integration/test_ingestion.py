"""Ingestion against the real database with real parser processes: complete or absent, overlap
de-duplication, identical rows kept, rejections that leave nothing, duplicates and redeliveries."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import polars as pl
import pytest
from ingest_kit import BANK_MAPPING, Ingestor, build_ingestor, csv_bytes, money

from files.adapters.parser_pool import ParserPool
from files.domain import ColumnMapping, parse_file
from files.domain.canonical import CURRENT_FINGERPRINT_SCHEME
from files.service_layer.ingestion import receive_file
from platform_common.errors import PermanentError
from platform_common.events import FileUploaded, decode, encode, wrap

pytestmark = pytest.mark.integration


@pytest.fixture
async def parsers() -> AsyncIterator[ParserPool]:
    pool = ParserPool(workers=1)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop()


@pytest.fixture
def kit(pool: asyncpg.Pool, parsers: ParserPool, tmp_path: Path) -> Ingestor:
    return build_ingestor(pool, parsers, tmp_path / "objects", extra_roots=(tmp_path / "dropoff",))


async def partitions(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'records' "
                                "AND p.relnamespace = current_schema()::regnamespace ORDER BY 1")
    return [row["relname"] for row in rows]


async def stray_tables(pool: asyncpg.Pool) -> list[str]:
    """records_<hex> tables that are not attached partitions (a half-done ingestion would leave one)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ '^records_[0-9a-f]{32}$' "
                                "AND relnamespace = current_schema()::regnamespace AND NOT relispartition")
    return [row["relname"] for row in rows]


async def test_a_valid_file_becomes_one_committed_dataset_with_exact_values(kit: Ingestor) -> None:
    data = csv_bytes('31/01/2024,"1.234,56",EUR,INV-1,Acme GmbH',
                     '01/02/2024,-20,eur,INV-2,"Globex, Inc."',
                     '13/02/2024,"(5,00)",USD,"He said ""hi""",Back\\slash')
    file = await kit.ingest(data)
    assert (file["status"], file["dataset_status"], file["row_count"], file["error_count"]) == (
        "committed", "committed", 3, 0), file["problem"]
    assert await kit.records(file["dataset_id"], "record_id", "line_no", "amount", "currency", "value_date",
                             "reference", "counterparty", "extras") == [
        ("2", 2, money("1234.56"), "EUR", date(2024, 1, 31), "INV-1", "Acme GmbH", "{}"),
        ("3", 3, money("-20"), "EUR", date(2024, 2, 1), "INV-2", "Globex, Inc.", "{}"),
        ("4", 4, money("-5.00"), "USD", date(2024, 2, 13), 'He said "hi"', "Back\\slash", "{}"),
    ]
    assert f"records_{file['dataset_id'].hex}" in await partitions(kit.pool)
    [event] = await kit.ingested_events()
    assert (event.status, event.file_id, event.dataset_id, event.row_count, event.error_count) == (
        "committed", file["id"], file["dataset_id"], 3, 0)


async def test_identical_rows_in_one_file_are_kept_and_overlaps_are_stored_once(kit: Ingestor) -> None:
    x, y, z = "13/03/2024,10.00,EUR,R-X,Shop", "14/03/2024,7.50,EUR,R-Y,Cafe", "15/03/2024,1.00,EUR,R-Z,Bus"
    first = await kit.ingest(csv_bytes(x, y, y), filename="march-1.csv")
    assert (first["status"], first["row_count"]) == ("committed", 3), first["problem"]  # two real coffees

    second = await kit.ingest(csv_bytes(y, y, y, z), filename="march-2.csv")
    assert (second["status"], second["row_count"], second["skipped_duplicates"]) == ("committed", 2, 2)
    assert await kit.records(second["dataset_id"], "line_no", "reference", "occurrence") == [
        (4, "R-Y", 2), (5, "R-Z", 0)]  # the third coffee is new; the first two were already stored

    elsewhere = await kit.ingest(csv_bytes(x, y), source="other account")
    assert (elsewhere["row_count"], elsewhere["skipped_duplicates"]) == (2, 0)  # overlap is per data source


async def test_a_data_source_keeps_the_fingerprint_scheme_of_its_stored_datasets(kit: Ingestor) -> None:
    x, y = "13/03/2024,10.00,EUR,R-X,Shop", "14/03/2024,7.50,EUR,R-Y,Cafe"
    fresh = await kit.ingest(csv_bytes(x), source="new account")
    assert await kit.fingerprint_scheme(fresh["dataset_id"]) == CURRENT_FINGERPRINT_SCHEME == 2

    legacy_csv = csv_bytes(x, y)
    legacy = await kit.ingest(legacy_csv, source="old account", filename="march-1.csv")
    # Make it a dataset stored before BLAKE3: scheme 1, its rows fingerprinted with BLAKE2b by the same parser.
    chunks = parse_file(io.BytesIO(legacy_csv), filename="march-1.csv",
                        mapping=ColumnMapping.model_validate(BANK_MAPPING), fingerprint_scheme=1)
    v1 = pl.concat([chunk.frame for chunk in chunks]).select("line", "fingerprint").rows()
    stored = await kit.records(legacy["dataset_id"], "line_no", "fingerprint")
    assert [(line, bytes(f)) for line, f in stored] != v1 and len(stored) == len(v1) == 2
    async with kit.pool.acquire() as conn:
        await conn.executemany("UPDATE records SET fingerprint = $3 WHERE dataset_id = $1 AND line_no = $2",
                               [(legacy["dataset_id"], line, fingerprint) for line, fingerprint in v1])
        await conn.execute("UPDATE datasets SET fingerprint_scheme = 1 WHERE id = $1", legacy["dataset_id"])

    overlapping = await kit.ingest(csv_bytes(y, "15/03/2024,1.00,EUR,R-Z,Bus"), source="old account",
                                   filename="march-2.csv")
    assert (overlapping["row_count"], overlapping["skipped_duplicates"]) == (1, 1)  # R-Y recognised across schemes
    assert await kit.fingerprint_scheme(overlapping["dataset_id"]) == 1


async def test_a_rejected_file_leaves_no_records_only_its_error_report(kit: Ingestor) -> None:
    data = csv_bytes("31/01/2024,12.00,EUR,INV-1,Acme", "31/01/2024,abc,EUR,INV-2,Acme",
                     "32/01/2024,3.00,EUR,INV-3,Acme", "01/02/2024,4.00,EUR,INV-4,Acme")
    file = await kit.ingest(data)
    assert file["status"] == "rejected"
    assert file["problem"]["code"] == "rows_invalid"
    assert (file["dataset_status"], file["row_count"], file["error_count"]) == ("rejected", 0, 2)
    assert await kit.errors(file["dataset_id"]) == [(3, "Amount", "amount_invalid"), (4, "Date", "date_invalid")]
    assert await kit.records(file["dataset_id"], "line_no") == []
    assert await partitions(kit.pool) == ["records_default"]
    assert await stray_tables(kit.pool) == []
    [event] = await kit.ingested_events()
    assert (event.status, event.row_count, event.error_count) == ("rejected", 0, 2)

    retry = await kit.ingest(csv_bytes("31/01/2024,12.00,EUR,INV-1,Acme", "01/02/2024,4.00,EUR,INV-4,Acme"))
    assert (retry["status"], retry["row_count"]) == ("committed", 2)


async def test_skip_mode_keeps_good_rows_and_lists_every_bad_one(kit: Ingestor) -> None:
    data = csv_bytes("31/01/2024,12.00,EUR,INV-1,Acme", "31/01/2024,,EUR,INV-2,Acme",
                     "31/01/2024,7,ZZZ,INV-3,Acme", "01/02/2024,4.00,EUR,INV-4,Acme")
    file = await kit.ingest(data, on_error="skip")
    assert (file["status"], file["row_count"], file["error_count"]) == ("committed", 2, 2)
    assert await kit.records(file["dataset_id"], "line_no", "amount") == [(2, money("12.00")), (5, money("4.00"))]
    assert await kit.errors(file["dataset_id"]) == [(3, "Amount", "required_missing"),
                                                   (4, "Currency", "currency_unknown")]


async def test_skip_mode_with_no_good_row_rejects_the_file_and_keeps_the_error_report(kit: Ingestor) -> None:
    data = csv_bytes("31/01/2024,abc,EUR,INV-1,Acme", "31/01/2024,,EUR,INV-2,Acme", "32/01/2024,3.00,EUR,INV-3,Acme")
    file = await kit.ingest(data, on_error="skip")
    assert file["status"] == "rejected"
    assert file["problem"] == {"code": "no_valid_rows", "column": None, "params": {"rows": 3},
                               "message": "none of the 3 data rows could be read; see the row errors"}
    assert (file["dataset_status"], file["row_count"], file["error_count"]) == ("rejected", 0, 3)
    assert await kit.errors(file["dataset_id"]) == [(2, "Amount", "amount_invalid"), (3, "Amount", "required_missing"),
                                                   (4, "Date", "date_invalid")]
    assert await kit.records(file["dataset_id"], "line_no") == []
    assert await partitions(kit.pool) == ["records_default"]
    assert await stray_tables(kit.pool) == []
    [event] = await kit.ingested_events()
    assert (event.status, event.row_count, event.error_count) == ("rejected", 0, 3)


async def test_a_file_level_problem_rejects_even_in_skip_mode(kit: Ingestor) -> None:
    data = csv_bytes("01/02/2024,1.00,EUR,A,B", "03/04/2024,2.00,EUR,C,D")  # DD/MM or MM/DD: nothing says
    file = await kit.ingest(data, on_error="skip")
    assert (file["status"], file["problem"]["code"], file["problem"]["column"]) == (
        "rejected", "date_format_ambiguous", "Date")
    assert await kit.records(file["dataset_id"], "line_no") == []

    with_format = await kit.ingest(data, on_error="skip", mapping={**BANK_MAPPING, "value_date": {
        "column": "Date", "date_format": "MM/DD/YYYY"}})
    assert with_format["status"] == "committed"
    assert await kit.records(with_format["dataset_id"], "value_date") == [(date(2024, 1, 2),), (date(2024, 3, 4),)]


async def test_a_redelivered_event_changes_nothing(kit: Ingestor) -> None:
    result, message = await kit.upload(csv_bytes("31/01/2024,12.00,EUR,INV-1,Acme"))
    assert message is not None
    assert await receive_file(kit.deps, message) is True
    assert await receive_file(kit.deps, message) is False  # same event id: the inbox says done

    event = message.event
    assert isinstance(event, FileUploaded)
    republished = decode(encode(wrap(event, producer="someone-else")))  # same file, a new event id
    assert await receive_file(kit.deps, republished) is False
    file = await kit.file(result.file["id"])
    assert file["row_count"] == 1
    async with kit.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM datasets") == 1
    assert [e.status for e in await kit.ingested_events()] == ["committed"]


async def test_the_same_bytes_under_a_new_file_id_are_a_duplicate_not_a_second_dataset(kit: Ingestor,
                                                                                       tmp_path: Path) -> None:
    data = csv_bytes("31/01/2024,12.00,EUR,INV-1,Acme")
    original = await kit.ingest(data)
    again, message = await kit.upload(data)
    assert again.duplicate is True
    assert message is None
    assert again.file["id"] == original["id"]

    # An external system drops the same bytes off under its own file id: detected at ingestion.
    dropoff = tmp_path / "dropoff"
    dropoff.mkdir()
    (dropoff / "copy.csv").write_bytes(data)
    external = FileUploaded(file_id=uuid.uuid4(), project_id=kit.project_id,
                            data_source_id=original["data_source_id"], object_uri=(dropoff / "copy.csv").as_uri(),
                            filename="copy.csv", origin="external")
    assert await receive_file(kit.deps, decode(encode(wrap(external, producer="erp")))) is True
    duplicate = await kit.file(external.file_id)
    assert (duplicate["status"], duplicate["duplicate_of"], duplicate["dataset_id"]) == (
        "duplicate", original["id"], None)
    events = await kit.ingested_events()
    assert [(e.status, e.dataset_id) for e in events] == [("committed", original["dataset_id"]),
                                                         ("duplicate", original["dataset_id"])]


async def test_values_holding_what_the_copy_format_escapes_are_stored_exactly(kit: Ingestor) -> None:
    """The COPY stream escapes backslash, tab, CR and LF; a literal \\N stays text, not NULL."""
    plain = b''.join(b'0%d/01/2024,1.00,EUR,R-%d,Shop,none\n' % (day, day) for day in range(1, 6))  # for the sniffer
    data = (b'Date,Amount,Currency,Reference,Counterparty,Note\n' + plain +
            b'31/01/2024,10.00,EUR,"tab\there","line1\nline2",plain\n'
            b'01/02/2024,20.00,EUR,\\N,"crlf\r\ninside",back\\slash\n'
            b'13/02/2024,30.00,EUR,trailing\\,"say ""x""","{""k"": ""\\\\""}"\n')
    mapping = {**BANK_MAPPING, "extras": {"note": {"column": "Note", "type": "text"}}}
    file = await kit.ingest(data, mapping=mapping)
    assert (file["status"], file["row_count"]) == ("committed", 8), file["problem"]
    stored = await kit.records(file["dataset_id"], "reference", "counterparty", "extras", "fingerprint")
    parsed = pl.concat([chunk.frame for chunk in parse_file(io.BytesIO(data), filename="statement.csv",
                                                            mapping=ColumnMapping.model_validate(mapping))])
    assert [(reference, counterparty, json.loads(extras), bytes(fingerprint))
            for reference, counterparty, extras, fingerprint in stored] == [
        (reference, counterparty, json.loads(extras), fingerprint)
        for reference, counterparty, extras, fingerprint in parsed.select(
            "reference", "counterparty", "extras", "fingerprint").iter_rows()]
    assert [(reference, json.loads(extras)["note"]) for reference, _, extras, _ in stored[5:]] == [
        ("tab\there", "plain"), ("\\N", "back\\slash"), ("trailing\\", '{"k": "\\\\"}')]
    assert stored[5][1] == "line1\nline2"


async def test_an_internal_failure_is_announced_as_failed_not_as_a_rejected_file(
    kit: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("a bug in the writer")

    monkeypatch.setattr("files.service_layer.ingestion.write_dataset", broken)
    result, message = await kit.upload(csv_bytes("31/01/2024,12.00,EUR,INV-1,Acme"))
    assert message is not None
    with pytest.raises(PermanentError) as raised:
        await receive_file(kit.deps, message)
    assert raised.value.code == "ingestion_failed"  # dead-lettered with the reason
    file = await kit.file(result.file["id"])
    assert (file["status"], file["problem"]["code"]) == ("failed", "ingestion_failed")
    [event] = await kit.ingested_events()
    assert (event.status, event.dataset_id, event.row_count) == ("failed", None, 0)
    assert await stray_tables(kit.pool) == []
