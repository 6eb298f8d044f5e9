"""Bookkeeping retention on the real Postgres: the rows of a job whose rows are all older than the retention
period (plan, shard members, failure, worker losses) are deleted, whole and in bounded batches; a job with
any newer row is kept whole; deleting again deletes nothing; the app's task runs it and stops with the app."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp import web
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY

from matcher.adapters.bookkeeping import PgBookkeeping
from matcher.adapters.topic_retention import topic_retention
from matcher.app import MIGRATIONS
from matcher.config import SERVICE, MatcherSettings, RetentionSettings
from matcher.entrypoints.retention import retention_ctx
from matcher.service_layer.retention import purge_expired_jobs
from platform_common.db import create_pool
from platform_common.errors import TransientError
from platform_common.events import JobStarted
from platform_common.keys import PG_POOL
from platform_common.migrations import COMMON_MIGRATIONS, apply_migrations, load_migrations
from platform_common.settings import KafkaSettings, PostgresSettings
from platform_common.testing import delete_topics, eventually

pytestmark = pytest.mark.integration

TABLES = ("shard_members", "shard_worker_losses", "job_failures", "job_plans")
NOW = datetime.now(UTC)
RETENTION = timedelta(days=30)
LONG_AGO = NOW - timedelta(days=40)
LATELY = NOW - timedelta(days=1)


@pytest.fixture
async def pool(stack: dict[str, str], unique: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a private matcher schema."""
    dsn, schema = stack["RECON_PG_DSN"], f"mtr_{unique}"
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, schema, load_migrations(COMMON_MIGRATIONS, *MIGRATIONS))
        pool = await create_pool(PostgresSettings(dsn=dsn, schema_name=schema))
        try:
            yield pool
        finally:
            await pool.close()
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


async def add_job(
    pool: asyncpg.Pool,
    *,
    planned_at: datetime | None,
    members: int = 0,
    failed_at: datetime | None = None,
    lost_at: tuple[datetime, ...] = (),
) -> uuid.UUID:
    """A job's bookkeeping as the matcher writes it, with the times given (no plan: failed at planning)."""
    job_id = uuid.uuid4()
    if planned_at is not None:
        await pool.execute(
            "INSERT INTO job_plans (job_id, shard_count, strategy, left_rows, right_rows, planned_at) "
            "VALUES ($1, 2, 'blocks', $2, 0, $3)",
            job_id,
            members,
            planned_at,
        )
        await pool.copy_records_to_table(
            "shard_members",
            columns=["job_id", "side", "shard_no", "record_id"],
            records=[(job_id, "L", n % 2, f"L{n}") for n in range(members)],
        )
    if failed_at is not None:
        await pool.execute(
            "INSERT INTO job_failures (job_id, shard_no, error_code, detail, failed_at) "
            "VALUES ($1, 0, 'shard_worker_lost', 'lost', $2)",
            job_id,
            failed_at,
        )
    for at in lost_at:
        await pool.execute(
            "INSERT INTO shard_worker_losses (job_id, shard_no, loss_id, lost_at) VALUES ($1, 0, $2, $3)",
            job_id,
            uuid.uuid4(),
            at,
        )
    return job_id


async def rows_of(pool: asyncpg.Pool, job_id: uuid.UUID) -> dict[str, int]:
    return {table: await pool.fetchval(f"SELECT count(*) FROM {table} WHERE job_id = $1", job_id) for table in TABLES}


def deleted_rows() -> dict[str, float]:
    return {
        table: REGISTRY.get_sample_value(
            "recon_matcher_bookkeeping_rows_deleted_total", {"service": SERVICE, "table": table}
        )
        or 0.0
        for table in TABLES
    }


async def test_jobs_done_before_the_retention_period_are_deleted_whole_in_batches_and_others_kept(
    pool: asyncpg.Pool,
) -> None:
    completed = await add_job(pool, planned_at=LONG_AGO, members=7)
    failed = await add_job(pool, planned_at=LONG_AGO, members=5, failed_at=LONG_AGO, lost_at=(LONG_AGO, LONG_AGO))
    failed_at_planning = await add_job(pool, planned_at=None, lost_at=(LONG_AGO,))
    old_plan_lost_lately = await add_job(pool, planned_at=LONG_AGO, members=3, lost_at=(LONG_AGO, LATELY))
    failed_lately = await add_job(pool, planned_at=LONG_AGO, members=3, failed_at=LATELY)
    recent = await add_job(pool, planned_at=LATELY, members=4, lost_at=(LATELY,))
    kept = {job: await rows_of(pool, job) for job in (old_plan_lost_lately, failed_lately, recent)}
    before = deleted_rows()

    # One job per round and two rows per statement: several rounds, and several statements for the members.
    purged = await purge_expired_jobs(
        PgBookkeeping(pool, service=SERVICE), retention=RETENTION, now=NOW, jobs_per_batch=1, rows_per_statement=2
    )

    assert purged == (7 + 1) + (5 + 1 + 1 + 2) + 1, "every row of the three done jobs"
    for job in (completed, failed, failed_at_planning):
        assert await rows_of(pool, job) == dict.fromkeys(TABLES, 0)
    for job, rows in kept.items():
        assert await rows_of(pool, job) == rows, "a job with a row newer than the period is kept whole"
    after = deleted_rows()
    assert {table: after[table] - before[table] for table in TABLES} == {
        "shard_members": 12,
        "shard_worker_losses": 3,
        "job_failures": 1,
        "job_plans": 2,
    }

    assert (
        await purge_expired_jobs(
            PgBookkeeping(pool, service=SERVICE), retention=RETENTION, now=NOW, jobs_per_batch=1, rows_per_statement=2
        )
        == 0
    ), "nothing left to delete"


async def test_the_apps_retention_task_purges_at_start_and_stops_with_the_app(
    pool: asyncpg.Pool, stack: dict[str, str]
) -> None:
    done = await add_job(pool, planned_at=LONG_AGO, members=3, failed_at=LONG_AGO)
    recent = await add_job(pool, planned_at=LATELY, members=3)
    settings = MatcherSettings(
        kafka=KafkaSettings(bootstrap_servers=stack["RECON_KAFKA_BOOTSTRAP"]),
        postgres=PostgresSettings(dsn=stack["RECON_PG_DSN"]),
        retention=RetentionSettings(days=30, interval_s=0.2),
    )
    app = web.Application()
    app[PG_POOL] = pool
    context = retention_ctx(settings)(app)
    await anext(context)
    try:

        async def purged() -> bool:
            return await rows_of(pool, done) == dict.fromkeys(TABLES, 0)

        await eventually(purged, timeout_s=10)
    finally:
        with pytest.raises(StopAsyncIteration):
            await anext(context)

    assert [t for t in asyncio.all_tasks() if t.get_name() == "bookkeeping-retention"] == []
    assert await rows_of(pool, recent) == {
        "shard_members": 3,
        "shard_worker_losses": 0,
        "job_failures": 0,
        "job_plans": 1,
    }


async def test_the_brokers_retention_of_each_topic_is_read_and_forever_is_none(
    kafka_bootstrap: str, unique: str
) -> None:
    forty_days, forever, default = f"it.kept.{unique}", f"it.forever.{unique}", f"it.default.{unique}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([
            NewTopic(forty_days, 1, 1, topic_configs={"retention.ms": str(40 * 86_400_000)}),
            NewTopic(forever, 1, 1, topic_configs={"retention.ms": "-1"}),
            NewTopic(default, 1, 1),
        ])  # fmt: skip
    finally:
        await admin.close()
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    try:
        kept = await topic_retention(kafka, [forty_days, forever, default])
        assert kept[forty_days] == timedelta(days=40)
        assert kept[forever] is None
        assert kept[default] is not None and kept[default] > timedelta(0), "the broker's default applies"
        with pytest.raises(TransientError):
            await topic_retention(kafka, [f"it.absent.{unique}"])
    finally:
        await delete_topics(kafka_bootstrap, forty_days, forever, default)


async def set_topic_configs(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    """Replace the topic's own settings (none: back to the broker's defaults)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
    finally:
        await admin.close()


async def test_the_apps_retention_task_keeps_jobs_the_topics_could_still_redeliver(
    pool: asyncpg.Pool, stack: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap = stack["RECON_KAFKA_BOOTSTRAP"]
    older_than_configured = await add_job(pool, planned_at=LONG_AGO, members=3, failed_at=LONG_AGO)
    settings = MatcherSettings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        postgres=PostgresSettings(dsn=stack["RECON_PG_DSN"]),
        retention=RetentionSettings(days=30, interval_s=0.2),
    )
    # job.started now keeps its events 60 days: a 40-day-old job.started could still come back.
    await set_topic_configs(bootstrap, JobStarted.TOPIC, {"retention.ms": str(60 * 86_400_000)})
    app = web.Application()
    app[PG_POOL] = pool
    context = retention_ctx(settings)(app)
    try:
        with caplog.at_level("INFO", logger="matcher.entrypoints.retention"):
            await anext(context)
            try:
                async def two_rounds_ran() -> bool:
                    return sum("bookkeeping kept 61 days, not the configured 30" in r.getMessage() for r in caplog.records) >= 2

                await eventually(two_rounds_ran, timeout_s=10)
            finally:
                with pytest.raises(StopAsyncIteration):
                    await anext(context)
    finally:
        await set_topic_configs(bootstrap, JobStarted.TOPIC, {})
    assert await rows_of(pool, older_than_configured) == {
        "shard_members": 3, "shard_worker_losses": 0, "job_failures": 1, "job_plans": 1,
    }  # fmt: skip
