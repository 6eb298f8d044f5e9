"""Postgres pool, migrations, inbox and outbox relay, Redis context and topic creation on the real stack."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from platform_common.db import create_pool, pg_pool_ctx, timed
from platform_common.events import JobCompleted, decode
from platform_common.health import health_of
from platform_common.http import create_base_app
from platform_common.idempotency import handle_once
from platform_common.kafka.producer import KafkaEventPublisher, build_producer
from platform_common.migrations import Migration, MigrationError, apply_migrations
from platform_common.outbox import OutboxRelay, enqueue
from platform_common.redis import redis_ctx
from platform_common.settings import ConfigurationError, KafkaSettings, PostgresSettings, RedisSettings
from platform_common.testing import create_topics, delete_topics, read_all
from platform_common.topics import all_topic_specs, ensure_topics

pytestmark = pytest.mark.integration
POOL = web.AppKey("pool", asyncpg.Pool)


async def test_migrations_apply_once_and_refuse_edited_history(pg_dsn: str, unique: str) -> None:
    schema = f"m_{unique}"
    first = Migration(version="0:0001_a.sql", name="0001_a.sql", sql="CREATE TABLE a (id int PRIMARY KEY);")
    second = Migration(version="0:0002_b.sql", name="0002_b.sql", sql="INSERT INTO a VALUES (1);")
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await apply_migrations(conn, schema, [first, second]) == [first.version, second.version]
        assert await apply_migrations(conn, schema, [first, second]) == []
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.a") == 1
        edited = Migration(version=first.version, name=first.name, sql=first.sql + " -- edited")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(conn, schema, [edited])
        with pytest.raises(MigrationError, match="invalid schema"):
            await apply_migrations(conn, "bad;name", [first])
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


async def test_concurrent_starters_apply_migrations_once(pg_dsn: str, unique: str) -> None:
    schema = f"m_{unique}"
    slow = Migration(version="0:0001_slow.sql", name="0001_slow.sql",
                     sql="CREATE TABLE t (id int); SELECT pg_sleep(0.5); INSERT INTO t VALUES (1);")
    conns = [await asyncpg.connect(pg_dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(apply_migrations(c, schema, [slow]) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 1]
        assert await conns[0].fetchval(f"SELECT count(*) FROM {schema}.t") == 1
    finally:
        await conns[0].execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for c in conns:
            await c.close()


async def test_pool_context_migrates_reports_readiness_and_metrics(pg_dsn: str, unique: str) -> None:
    schema = f"p_{unique}"
    pg = PostgresSettings(dsn=pg_dsn, schema_name=schema)  # type: ignore[arg-type]
    app = create_base_app("pooltest")
    app.cleanup_ctx.append(pg_pool_ctx(pg, service="pooltest", key=POOL, setting_name="X_POSTGRES__DSN",
                                       migrations=("projects.migrations",)))
    try:
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/readyz")
            assert response.status == 200
            assert (await response.json())["checks"]["postgres"] == "ok"
            pool = app[POOL]
            async with timed("pooltest", "count_projects"), pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM projects") == 0
                assert await conn.fetchval("SELECT current_schema()") == schema
            metrics = await (await client.get("/metrics")).text()
            assert 'recon_db_pool_connections{service="pooltest",state="max"} 10.0' in metrics
            assert 'recon_db_query_duration_seconds_count{operation="count_projects",service="pooltest"}' in metrics
        assert "postgres" not in health_of(app).readiness
    finally:
        conn = await asyncpg.connect(pg_dsn)
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


async def test_unreachable_postgres_is_a_configuration_error() -> None:
    pg = PostgresSettings(dsn="postgresql://x:y@127.0.0.1:9/none", connect_attempts=2,  # type: ignore[arg-type]
                          connect_backoff_s=0.01)
    with pytest.raises(ConfigurationError, match="Postgres unreachable via MY_DSN"):
        await create_pool(pg, setting_name="MY_DSN")


async def test_inbox_makes_repeated_handling_a_no_op(pg_dsn: str, test_schema: str) -> None:
    pool = await asyncpg.create_pool(pg_dsn, server_settings={"search_path": test_schema}, min_size=1, max_size=4)
    try:
        await pool.execute("CREATE TABLE applied (n int)")
        event_id = uuid.uuid4()

        async def work(conn: asyncpg.Connection) -> None:
            await conn.execute("INSERT INTO applied VALUES (1)")

        results = await asyncio.gather(*(handle_once(pool, consumer="c", event_id=event_id, work=work)
                                         for _ in range(4)))
        assert sorted(results) == [False, False, False, True]
        assert await pool.fetchval("SELECT count(*) FROM applied") == 1
        assert await handle_once(pool, consumer="other-consumer", event_id=event_id, work=work) is True

        async def failing(conn: asyncpg.Connection) -> None:
            await conn.execute("INSERT INTO applied VALUES (2)")
            raise RuntimeError("handler failed after writing")

        retry_id = uuid.uuid4()
        with pytest.raises(RuntimeError):
            await handle_once(pool, consumer="c", event_id=retry_id, work=failing)
        assert await pool.fetchval("SELECT count(*) FROM applied WHERE n = 2") == 0, "rolled back with the claim"
        assert await handle_once(pool, consumer="c", event_id=retry_id, work=work) is True
    finally:
        await pool.close()


async def test_outbox_relay_publishes_committed_events_only(pg_dsn: str, test_schema: str, kafka_bootstrap: str,
                                                             unique: str) -> None:
    pool = await asyncpg.create_pool(pg_dsn, server_settings={"search_path": test_schema}, min_size=2, max_size=4)
    topic = JobCompleted.TOPIC
    producer = build_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap), client_id="outbox-test")
    await producer.start()
    relay = OutboxRelay(pool, KafkaEventPublisher(producer, service="outbox-test", timeout_s=15), poll_interval_s=5)
    task = asyncio.create_task(relay.run())
    job_id = uuid.uuid4()
    try:
        event = JobCompleted(job_id=job_id, project_id=uuid.uuid4(), status="succeeded", matched=3)
        async with pool.acquire() as conn:
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await enqueue(conn, event, producer="outbox-test")
                    raise RuntimeError("the state change failed")
            async with conn.transaction():
                envelope = await enqueue(conn, event, producer="outbox-test", correlation_id=str(job_id))

        async def published() -> bool:
            return await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") == 1

        for _ in range(100):
            if await published():
                break
            await asyncio.sleep(0.1)
        assert await published(), "NOTIFY wakes the relay well before its 5 s poll"
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        relay.stop()
        await task
        await producer.stop()
        await pool.close()
    records = await read_all(kafka_bootstrap, topic, expected=10_000, timeout_s=5)
    mine = [decode(r.value) for r in records if str(job_id).encode() == r.key]
    assert [m.envelope.id for m in mine] == [envelope.id]


async def test_redis_context_checks_connectivity(redis_url: str) -> None:
    key = web.AppKey("redis-test", object)
    app = create_base_app("redistest")
    app.cleanup_ctx.append(redis_ctx(RedisSettings(url=redis_url), key=key, setting_name="X_REDIS__URL"))  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        assert (await (await client.get("/readyz")).json())["checks"]["redis"] == "ok"
    bad = create_base_app("redistest")
    bad.cleanup_ctx.append(redis_ctx(RedisSettings(url="redis://127.0.0.1:9/0"), key=key,  # type: ignore[arg-type]
                                     setting_name="X_REDIS__URL"))
    with pytest.raises(ConfigurationError, match="Redis unreachable via X_REDIS__URL"):
        async with TestClient(TestServer(bad)):
            pass


async def test_ensure_topics_is_idempotent(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    await ensure_topics(kafka)
    assert await ensure_topics(kafka) == []


def test_topics_and_migrate_commands(kafka_bootstrap: str, pg_dsn: str) -> None:
    listing = subprocess.run([sys.executable, "-m", "platform_common.topics", "list"], capture_output=True,
                             text=True, check=True)
    assert listing.stdout.splitlines() == [f"{n}\t{p}" for n, p in all_topic_specs()]
    ensure = subprocess.run([sys.executable, "-m", "platform_common.topics", "ensure"], capture_output=True,
                            text=True, check=False,
                            env={**os.environ, "TOPICS_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap})
    assert ensure.returncode == 0 and ensure.stdout.startswith("topics ready"), ensure.stderr
    migrate = subprocess.run([sys.executable, "-m", "results", "migrate"], capture_output=True, text=True,
                             check=False, env={**os.environ, "RESULTS_POSTGRES__DSN": pg_dsn,
                                               "RESULTS_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap})
    assert migrate.returncode == 0, migrate.stderr
    assert "migration(s) applied to schema results" in migrate.stdout


async def test_throwaway_topic_helpers(kafka_bootstrap: str, unique: str) -> None:
    name = f"it.helpers.{unique}"
    await create_topics(kafka_bootstrap, name, partitions=2)
    await delete_topics(kafka_bootstrap, name)
    with pytest.raises(AssertionError, match="does not exist"):
        await read_all(kafka_bootstrap, f"it.missing.{unique}", expected=1, timeout_s=1)
