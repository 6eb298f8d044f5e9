"""The files service is killed (SIGKILL) in the middle of ingesting a large file. Before the restart the dataset
is absent; after it, complete; at no moment partial. The event is processed once in effect: one dataset, one
inbox entry, one file.ingested."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from urllib.parse import urlparse

import aiohttp
import asyncpg
import psutil
import pytest
from service_kit import BANK_MAPPING, call, events, form, ingested, wait_for_file

from files.testing import FilesProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS = 400_000


def large_statement(rows: int) -> bytes:
    lines = ["Date,Amount,Currency,Reference,Counterparty,Description"]
    lines += [f"{1 + n % 28:02d}/{1 + n % 12:02d}/2024,{n % 50000}.{n % 100:02d},EUR,F-{n:08d},"
              f"Counterparty {n % 997},Invoice {n} settled" for n in range(rows)]
    lines.append("13/12/2024,1.00,EUR,F-last,Last,Settles the day-first question")
    return ("\n".join(lines) + "\n").encode()


def postgres_client_ports(pid: int, pg_dsn: str) -> list[int]:
    """The local ports of the service's connections to Postgres (how pg_stat_activity knows them)."""
    pg_port = urlparse(pg_dsn).port or 5432
    return [c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.raddr and c.raddr.port == pg_port]


async def copy_progress(db: asyncpg.Connection, ports: list[int]) -> int:
    """Rows a COPY of the service has taken so far (0 when none runs). The dataset's table is created in the
    ingesting transaction, invisible to other sessions, so the backend is found by its client port."""
    found = await db.fetchval(
        "SELECT max(p.tuples_processed) FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid "
        "WHERE a.client_port = ANY($1::int[])", ports)
    return int(found or 0)


async def stored_rows(db: asyncpg.Connection, file_id: uuid.UUID) -> int:
    return int(await db.fetchval("SELECT count(*) FROM records r JOIN datasets d ON d.id = r.dataset_id "
                                 "WHERE d.file_id = $1", file_id))


async def test_a_kill_mid_ingestion_leaves_the_dataset_complete_or_absent(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, db: asyncpg.Connection,
        pg_dsn: str, kafka_bootstrap: str) -> None:
    expected_rows = ROWS + 1
    status, _, file = await call(http, service, "POST", f"/v1/projects/{project}/files",
                                 data=form(large_statement(ROWS), data_source_name="bank",
                                           mapping={**BANK_MAPPING, "description": "Description"}))
    assert status == 201, file
    file_id = uuid.UUID(file["id"])

    observed: set[int] = set()
    watching = True

    async def watch_for_partial_results() -> None:
        watcher = await asyncpg.connect(pg_dsn, server_settings={"search_path": f"{service.schema},public"})
        try:
            while watching:
                observed.add(await stored_rows(watcher, file_id))
                await asyncio.sleep(0.05)
        finally:
            await watcher.close()

    watcher = asyncio.create_task(watch_for_partial_results())
    deadline = time.monotonic() + 180
    while await copy_progress(db, postgres_client_ports(service.pid, pg_dsn)) < 50_000:
        assert time.monotonic() < deadline, "the ingestion never reached its COPY"
        await asyncio.sleep(0.05)
    parsers = psutil.Process(service.pid).children(recursive=True)
    ports = postgres_client_ports(service.pid, pg_dsn)
    os.kill(service.pid, signal.SIGKILL)
    assert service.process is not None
    service.process.wait(timeout=10)

    # The database notices the dead connection and rolls the whole attempt back.
    deadline = time.monotonic() + 60
    while await copy_progress(db, ports):
        assert time.monotonic() < deadline, "the killed ingestion's COPY is still running"
        await asyncio.sleep(0.1)
    assert await stored_rows(db, file_id) == 0
    assert await db.fetchval("SELECT count(*) FROM datasets WHERE file_id = $1", file_id) == 0
    assert await db.fetchval("SELECT count(*) FROM pg_class WHERE relnamespace = $1::regnamespace "
                             "AND relname ~ '^records_[0-9a-f]{32}$'", service.schema) == 0
    _, still_running = psutil.wait_procs(parsers, timeout=30)
    assert still_running == [], "parser processes outlived the killed service"

    service.start()
    finished = await wait_for_file(http, service, project, str(file_id), timeout_s=240)
    watching = False
    await watcher
    assert (finished["status"], finished["row_count"]) == ("committed", expected_rows), finished
    assert await stored_rows(db, file_id) == expected_rows
    assert observed <= {0, expected_rows}, f"a partial dataset was visible: {sorted(observed)}"

    assert await db.fetchval("SELECT count(*) FROM datasets WHERE file_id = $1", file_id) == 1
    event_id = await db.fetchval("SELECT id FROM outbox WHERE topic = $1 AND convert_from(payload, 'UTF8')::jsonb "
                                 "-> 'data' ->> 'file_id' = $2", service.topics[0], str(file_id))
    assert await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id) == 1
    announced = ingested(await events(kafka_bootstrap, service.topics[1], expected=10_000, timeout_s=8), str(file_id))
    assert [(e.status, e.row_count) for e in announced] == [("committed", expected_rows)]



async def test_a_parser_killed_mid_file_is_retried_and_the_dataset_completes(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, db: asyncpg.Connection,
        pg_dsn: str) -> None:
    expected_rows = ROWS + 1
    status, _, file = await call(http, service, "POST", f"/v1/projects/{project}/files",
                                 data=form(large_statement(ROWS), data_source_name="parser crash",
                                           mapping={**BANK_MAPPING, "description": "Description"}))
    assert status == 201, file
    deadline = time.monotonic() + 180
    while await copy_progress(db, postgres_client_ports(service.pid, pg_dsn)) < 50_000:
        assert time.monotonic() < deadline, "the ingestion never reached its COPY"
        await asyncio.sleep(0.05)
    [parser] = [p for p in psutil.Process(service.pid).children() if "spawn_main" in " ".join(p.cmdline())]
    parser.kill()

    finished = await wait_for_file(http, service, project, file["id"], timeout_s=240)
    assert (finished["status"], finished["row_count"]) == ("committed", expected_rows), finished
    assert await stored_rows(db, uuid.UUID(file["id"])) == expected_rows
    assert await db.fetchval("SELECT count(*) FROM datasets WHERE file_id = $1", uuid.UUID(file["id"])) == 1
    assert service.process is not None and service.process.poll() is None  # the service itself lived on
    assert [p for p in psutil.Process(service.pid).children() if "spawn_main" in " ".join(p.cmdline())] != []
