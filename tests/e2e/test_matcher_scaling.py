"""Three matcher processes in one consumer group share one job; one is killed mid-job. The job still
completes, no record is matched twice, and the result equals the single-process engine's."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import polars as pl
import pytest

from matcher.domain import RuleSet, match
from platform_common.events import JobStarted
from platform_common.kafka.producer import KafkaEventPublisher, build_producer
from platform_common.migrations import COMMON_MIGRATIONS, apply_migrations, load_migrations
from platform_common.settings import KafkaSettings
from platform_common.testing import eventually

pytestmark = pytest.mark.e2e

CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "JPY", "CAD", "AUD"]
RULES = {
    "version": 1,
    "name": "scaling",
    "passes": [
        {"name": "exact-reference", "cardinality": "one_to_one",
         "blocking": [{"field": "currency"}, {"field": "reference", "normalise": {"case": True, "punctuation": True}}],
         "comparisons": [{"type": "numeric_tolerance", "field": "amount", "absolute": "0.01", "mode": "filter"},
                         {"type": "date_window", "field": "value_date", "days": 3, "mode": "filter"}],
         "auto_match_threshold": 1.0, "review_threshold": 0.5},
        {"name": "fuzzy-counterparty", "cardinality": "one_to_one",
         "blocking": [{"field": "currency"}, {"field": "value_date"}],
         "comparisons": [{"type": "numeric_tolerance", "field": "amount", "percent": 0.5, "mode": "filter"},
                         {"type": "fuzzy", "field": "counterparty", "algorithm": "jaro_winkler", "threshold": 0.8,
                          "mode": "score", "weight": 2},
                         {"type": "numeric_tolerance", "field": "amount", "absolute": "1.00", "mode": "score"}],
         "auto_match_threshold": 0.9, "review_threshold": 0.6, "ambiguity_margin": 0.02},
    ],
}
NAMES = ["Acme GmbH", "Globex Corp", "Initech", "Umbrella plc", "Stark Industries", "Wayne Enterprises",
         "Hooli", "Vandelay Imports", "Soylent Co", "Tyrell Corp", "Cyberdyne", "Wonka Industries"]


def generate(rows: int, seed: int = 7) -> tuple[list[tuple], list[tuple]]:
    rng = random.Random(seed)
    left, right = [], []
    start = date(2026, 1, 1)
    for i in range(rows):
        currency = CURRENCIES[i % len(CURRENCIES)]
        amount = Decimal(rng.randint(100, 500_000)) / 100
        day = start + timedelta(days=rng.randint(0, 60))
        name = rng.choice(NAMES) + f" {i % 97}"
        reference = f"INV-{i:06d}"
        left.append((f"L{i:06d}", amount, currency, day, reference, name))
        kind = rng.random()
        if kind < 0.75:
            right.append((f"R{i:06d}", amount, currency, day + timedelta(days=rng.randint(0, 2)), reference.lower(),
                          name))
        elif kind < 0.9:
            typo = name.replace("a", "e", 1)
            right.append((f"R{i:06d}", amount + Decimal("0.30"), currency, day, f"X{rng.randint(0, 10**9)}", typo))
        else:
            right.append((f"R{i:06d}", amount * 3, currency, day, f"Y{i}", "Nobody"))
    return left, right


async def load_dataset(conn: asyncpg.Connection, dataset_id: uuid.UUID, project_id: uuid.UUID,
                       rows: list[tuple]) -> None:
    file_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO files.files (id, project_id, data_source_id, object_uri, filename, origin, status) "
        "VALUES ($1, $2, $3, 'file:///test', 'test.csv', 'external', 'committed')", file_id, project_id, uuid.uuid4())
    await conn.execute(
        "INSERT INTO files.datasets (id, project_id, data_source_id, file_id, status, row_count) "
        "VALUES ($1, $2, $3, $4, 'committed', $5)", dataset_id, project_id, uuid.uuid4(), file_id, len(rows))
    await conn.copy_records_to_table(
        "records", schema_name="files",
        columns=["dataset_id", "record_id", "line_no", "amount", "currency", "value_date", "reference", "counterparty",
                 "fingerprint"],
        records=[(dataset_id, r[0], n + 2, r[1], r[2], r[3], r[4], r[5], r[0].encode()) for n, r in enumerate(rows)],
    )


def frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "amount": [r[1] for r in rows], "currency": [r[2] for r in rows],
         "value_date": [r[3] for r in rows], "reference": [r[4] for r in rows],
         "counterparty": [r[5] for r in rows]},
        schema={"record_id": pl.Utf8, "amount": pl.Decimal(38, 2), "currency": pl.Utf8, "value_date": pl.Date,
                "reference": pl.Utf8, "counterparty": pl.Utf8},
    )


def start(service: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", service], env={**os.environ, **env}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


async def test_three_matchers_share_a_job_and_survive_losing_one(stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dsn, bootstrap = stack["RECON_PG_DSN"], stack["RECON_KAFKA_BOOTSTRAP"]
    left_rows, right_rows = generate(24_000)
    project_id, left_id, right_id, job_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    await apply_migrations(conn, "files", load_migrations(COMMON_MIGRATIONS, "files.migrations"))
    await load_dataset(conn, left_id, project_id, left_rows)
    await load_dataset(conn, right_id, project_id, right_rows)

    common = {"KAFKA__BOOTSTRAP_SERVERS": bootstrap, "POSTGRES__DSN": dsn, "ENVIRONMENT": "test",
              "KAFKA__SESSION_TIMEOUT_MS": "6000", "KAFKA__HEARTBEAT_INTERVAL_MS": "1000"}
    matcher_env = {f"MATCHER_{k}": v for k, v in common.items()} | {"MATCHER_SHARDS_PER_JOB": "12",
                                                                   "MATCHER_MAX_MATCHES_PER_BATCH": "200"}
    results_env = {f"RESULTS_{k}": v for k, v in common.items()} | {"RESULTS_HTTP__PORT": "18194",
                                                                    "RESULTS_AUTH__INTERNAL_KEY": "k" * 32}
    processes = {"results": start("results", results_env, tmp_path / "results.log")}
    for n in range(3):
        processes[f"matcher{n}"] = start("matcher", matcher_env | {"MATCHER_HTTP__PORT": str(18190 + n)},
                                         tmp_path / f"matcher{n}.log")
    producer = build_producer(KafkaSettings(bootstrap_servers=bootstrap), client_id="scaling-test")
    await producer.start()
    try:
        await asyncio.sleep(8)  # let all three join both groups before the job arrives
        job = JobStarted(job_id=job_id, project_id=project_id, left_dataset_id=left_id, right_dataset_id=right_id,
                         rule_set=RULES)
        await KafkaEventPublisher(producer, service="test", timeout_s=15).publish(job)

        async def some_batches_in() -> bool:
            return bool(await conn.fetchval("SELECT count(DISTINCT shard_no) FROM results.shard_batches "
                                            "WHERE job_id = $1", job_id))

        await eventually(some_batches_in, timeout_s=180)
        processes["matcher1"].send_signal(signal.SIGKILL)
        # The kill must land mid-job, and what the survivors log from here on must show them taking over.
        finished_at_kill = await conn.fetchval(
            "SELECT count(*) FROM results.shard_batches WHERE job_id = $1 AND is_last", job_id)
        survivors = ("matcher0", "matcher2")
        log_offsets = {name: (tmp_path / f"{name}.log").stat().st_size for name in survivors}

        async def job_done() -> bool:
            return await conn.fetchval("SELECT status FROM results.jobs WHERE job_id = $1", job_id) == "succeeded"

        try:
            await eventually(job_done, timeout_s=300)
        except AssertionError:
            logs = {name: (tmp_path / f"{name}.log").read_text()[-3000:] for name in processes}
            raise AssertionError(f"job did not complete: {logs}") from None

        after_kill = "".join((tmp_path / f"{name}.log").read_bytes()[offset:].decode() for name, offset in
                             log_offsets.items())
        assert "partitions assigned" in after_kill, "no survivor was given the killed matcher's partitions"
        served = await conn.fetch("SELECT left_ids, right_ids, status, pass_name, score FROM results.matches "
                                  "WHERE job_id = $1", job_id)
        unmatched = await conn.fetch("SELECT side, record_id FROM results.unmatched WHERE job_id = $1", job_id)
        shards_with_output = await conn.fetchval(
            "SELECT count(DISTINCT shard_no) FROM results.shard_batches WHERE job_id = $1", job_id)
        # Any matcher in the group may plan the job (the e2e platform's own matcher included); the first
        # stored plan holds, and every one of its shards must have delivered.
        planned_shards = await conn.fetchval("SELECT shard_count FROM matcher.job_plans WHERE job_id = $1", job_id)
    finally:
        await producer.stop()
        for proc in processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in processes.values():
            proc.wait(timeout=30)
        await conn.close()

    assert planned_shards in (4, 12)
    assert shards_with_output == planned_shards
    assert finished_at_kill < planned_shards, "the matcher was killed after the job's shards had all finished"
    left_ids = [i for row in served for i in row["left_ids"]]
    right_ids = [i for row in served for i in row["right_ids"]]
    assert len(left_ids) == len(set(left_ids)), "a left record was matched twice"
    assert len(right_ids) == len(set(right_ids)), "a right record was matched twice"

    expected = match(frame(left_rows), frame(right_rows), RuleSet.model_validate(RULES))
    want = sorted((tuple(r["left_ids"]), tuple(r["right_ids"]), r["status"], r["pass_name"], round(r["score"], 9))
                  for r in expected.matched.iter_rows(named=True))
    got = sorted((tuple(r["left_ids"]), tuple(r["right_ids"]), r["status"], r["pass_name"], round(r["score"], 9))
                 for r in served)
    assert got == want
    assert sorted(r["record_id"] for r in unmatched if r["side"] == "left") == \
        sorted(expected.unmatched_left["record_id"].to_list())
    assert sorted(r["record_id"] for r in unmatched if r["side"] == "right") == \
        sorted(expected.unmatched_right["record_id"].to_list())
    assert len(want) > 20_000 * 0.8, "the generated data mostly matches"
