"""Test harness: the matcher's two consumers (planner and shard worker) built by its entrypoint factories and
run by the platform's ConsumerRunner against the real broker and database. Only names are private to the
test: a matcher schema, a records table and a copy of each matcher topic (`<prefix><catalogue name>`)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import polars as pl
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from matcher.adapters.cpu_pool import CPU_POOL, CpuPool
from matcher.adapters.records import PgRecordStore
from matcher.app import MIGRATIONS
from matcher.config import SERVICE, MatcherSettings
from matcher.entrypoints import consumer
from matcher.service_layer.shard_work import ShardOutput, match_records
from platform_common.db import create_pool
from platform_common.events import (
    DecodedMessage,
    Envelope,
    Event,
    JobProgressed,
    JobStarted,
    MatchBatchProduced,
    ShardRequested,
    decode,
    encode,
    wrap,
)
from platform_common.kafka.consumer import ConsumerRunner, MessageHandler
from platform_common.kafka.producer import KafkaEventPublisher, build_producer
from platform_common.keys import PG_POOL, PUBLISHER
from platform_common.migrations import COMMON_MIGRATIONS, apply_migrations, load_migrations
from platform_common.settings import KafkaSettings, PostgresSettings
from platform_common.testing import committed_offsets, create_topics, delete_topics, eventually
from platform_common.topics import dlq_name

PARTITIONS = 3
MATCHER_TOPICS = (JobStarted.TOPIC, ShardRequested.TOPIC, MatchBatchProduced.TOPIC, JobProgressed.TOPIC)
# Quick retries, so a test sees the runner give up on a record within a second.
KAFKA_RETRIES = {"max_attempts": 3, "retry_backoff_base_s": 0.05, "retry_backoff_max_s": 0.2}

Row = tuple[str, Decimal, str, date, str, str]  # record_id, amount, currency, value_date, reference, counterparty


# A record whose id starts with this kills the worker process that matches it, as the kernel kills a worker
# whose shard is too big for its memory.
OUT_OF_MEMORY = "OOM"
# A record whose id starts with this keeps the worker that matches it busy for SLOW_S first, so that another
# shard's worker can die while this shard is on the pool.
SLOW = "SLOW"
SLOW_S = 5.0


def match_or_die(left: pl.DataFrame, right: pl.DataFrame, rule_set: dict[str, Any]) -> ShardOutput:
    """Runs in a worker process (stands in for shard_work.match_records): dies on a shard holding an
    OUT_OF_MEMORY record, takes its time over one holding a SLOW record, matches any other."""
    if _holds(OUT_OF_MEMORY, left, right):
        os.kill(os.getpid(), signal.SIGKILL)
    if _holds(SLOW, left, right):
        time.sleep(SLOW_S)
    return match_records(left, right, rule_set)


def _holds(prefix: str, *frames: pl.DataFrame) -> bool:
    return any(frame["record_id"].str.starts_with(prefix).any() for frame in frames)


def warm_worker() -> int:
    """Runs in a worker process: importing this module there is most of a fresh worker's start-up."""
    time.sleep(0.5)  # holds this worker, so that a call made meanwhile warms another
    return os.getpid()


async def warm_up(cpu: CpuPool, workers: int) -> None:
    """Until `workers` worker processes are up and have imported the harness: a shard's call then starts on
    the pool at once instead of after a worker's start-up, however loaded the machine."""
    warmed: set[int] = set()
    while len(warmed) < workers:
        warmed.update(await asyncio.gather(*(cpu.run(warm_worker) for _ in range(workers))))


class PrivateTopics:
    """The handlers' EventPublisher port on the real broker, sending each event to this test's copy of its topic."""

    def __init__(self, publisher: KafkaEventPublisher, prefix: str) -> None:
        self._publisher = publisher
        self.prefix = prefix

    def topic(self, name: str) -> str:
        return self.prefix + name

    async def publish(
        self, event: Event, *, correlation_id: str | None = None, envelope: Envelope | None = None
    ) -> Envelope:
        envelope = envelope or wrap(event, producer="test", correlation_id=correlation_id)
        await self._publisher.send_raw(
            self.topic(event.TOPIC), encode(envelope), key=event.partition_key(), message_id=str(envelope.id)
        )
        return envelope


@dataclass
class MatcherHarness:
    bootstrap: str
    dsn: str
    events: PrivateTopics
    pool: asyncpg.Pool
    store: PgRecordStore
    producer: AIOKafkaProducer
    records_schema: str
    matcher_schema: str
    planner: ConsumerRunner | None = None
    shards: ConsumerRunner | None = None
    # Further members of the shards' group in this process, sharing its CPU pool (start_harness's shard_consumers).
    more_shards: list[ConsumerRunner] = field(default_factory=list)
    # How often a handler was called per record, keyed (topic, partition, offset).
    calls: Counter[tuple[str, int, int]] = field(default_factory=Counter)

    async def add_dataset(self, rows: list[Row]) -> uuid.UUID:
        """Records of a new dataset, as the files service stores them."""
        dataset_id = uuid.uuid4()
        async with self.pool.acquire() as conn:
            await conn.copy_records_to_table(
                "records",
                schema_name=self.records_schema,
                columns=[
                    "dataset_id",
                    "record_id",
                    "line_no",
                    "amount",
                    "currency",
                    "value_date",
                    "reference",
                    "counterparty",
                    "fingerprint",
                ],
                records=[(dataset_id, row[0], n + 2, *row[1:], row[0].encode()) for n, row in enumerate(rows)],
            )
        return dataset_id

    async def publish(self, event: Event) -> None:
        await self.events.publish(event)

    async def publish_to_partition(self, event: Event, partition: int) -> None:
        """Publish to one partition of this test's copy of the topic, so that a chosen consumer gets it."""
        envelope = wrap(event, producer="test")
        await self.producer.send_and_wait(
            self.events.topic(event.TOPIC), encode(envelope), key=event.partition_key(), partition=partition
        )

    async def published(self, catalogue_topic: str, job_id: uuid.UUID) -> list[DecodedMessage]:
        """Every event of the job on this test's copy of the topic, in offset order per partition."""
        records = await read_topic(self.bootstrap, self.events.topic(catalogue_topic), PARTITIONS)
        decoded = [decode(record.value) for record in records]
        return [message for message in decoded if getattr(message.event, "job_id", None) == job_id]

    async def dead_letters(self, catalogue_topic: str) -> list[ConsumerRecord[bytes, bytes]]:
        return await read_topic(self.bootstrap, dlq_name(self.events.topic(catalogue_topic)), 1)

    async def wait_for_failure(self, job_id: uuid.UUID, *, timeout_s: float = 60) -> JobProgressed:
        found: list[JobProgressed] = []

        async def failed() -> bool:
            progress = await self.published(JobProgressed.TOPIC, job_id)
            found[:] = [m.event for m in progress if isinstance(m.event, JobProgressed) and m.event.stage == "failed"]
            return bool(found)

        await eventually(failed, timeout_s=timeout_s)
        return found[0]

    async def wait_until_committed(
        self, catalogue_topic: str, runner: ConsumerRunner, *, timeout_s: float = 60
    ) -> None:
        """Until the runner's group has committed every record on the topic (the end offset of each partition)."""
        topic = self.events.topic(catalogue_topic)

        async def all_committed() -> bool:
            ends = await end_offsets(self.bootstrap, topic, PARTITIONS)
            committed = await committed_offsets(self.bootstrap, runner.group_id, topic)
            return all((committed.get(p) or 0) == end for p, end in ends.items())

        await eventually(all_committed, timeout_s=timeout_s)

    def handled(self, catalogue_topic: str) -> list[int]:
        """How many times the handler ran for each record of the topic that reached it."""
        topic = self.events.topic(catalogue_topic)
        return [count for (name, _, _), count in sorted(self.calls.items()) if name == topic]

    async def stop(self) -> None:
        for runner in (*self.more_shards, self.shards, self.planner):
            if runner is not None and runner.started:
                await runner.stop()
        await self.producer.stop()
        await self.pool.close()
        conn = await asyncpg.connect(self.dsn)
        try:
            for schema in (self.records_schema, self.matcher_schema):
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await conn.close()
        await delete_topics(self.bootstrap, *(self.events.topic(name) for name in MATCHER_TOPICS))


async def start_harness(
    stack: dict[str, str], unique: str, cpu: CpuPool, *, shard_consumers: int = 1
) -> MatcherHarness:
    """Private schemas and topics, then the consumers running and assigned their partitions: the planner and
    `shard_consumers` members of the shards' group, all on the one CPU pool (more than one member runs
    shards concurrently on it, as the planner and the shard consumer share a replica's pool)."""
    bootstrap, dsn = stack["RECON_KAFKA_BOOTSTRAP"], stack["RECON_PG_DSN"]
    prefix = f"mt{unique}."
    await create_topics(bootstrap, *(prefix + name for name in MATCHER_TOPICS), partitions=PARTITIONS)
    records_schema, matcher_schema = f"mtf_{unique}", f"mtm_{unique}"
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, records_schema, load_migrations(COMMON_MIGRATIONS, "files.migrations"))
        await apply_migrations(conn, matcher_schema, load_migrations(COMMON_MIGRATIONS, *MIGRATIONS))
    finally:
        await conn.close()
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap, session_timeout_ms=6000, heartbeat_interval_ms=1000, **KAFKA_RETRIES
    )
    postgres = PostgresSettings(dsn=dsn, schema_name=matcher_schema)
    settings = MatcherSettings(
        kafka=kafka,
        postgres=postgres,
        shards_per_job=4,
        max_matches_per_batch=50,
        records_table=f"{records_schema}.records",
    )
    pool = await create_pool(postgres)
    producer = build_producer(kafka, client_id="matcher-test")
    await producer.start()
    dead_letters = KafkaEventPublisher(producer, service=SERVICE, timeout_s=15)
    harness = MatcherHarness(
        bootstrap=bootstrap,
        dsn=dsn,
        events=PrivateTopics(dead_letters, prefix),
        pool=pool,
        store=PgRecordStore(pool, records_table=settings.records_table, service=SERVICE),
        producer=producer,
        records_schema=records_schema,
        matcher_schema=matcher_schema,
    )
    app = web.Application()
    app[consumer.SETTINGS] = settings
    app[PG_POOL] = pool
    app[CPU_POOL] = cpu
    app[PUBLISHER] = harness.events  # type: ignore[assignment]  # the port, routed to the private topics

    def counted_runner(
        catalogue_topic: str, group: str, factory: Callable[[web.Application], MessageHandler]
    ) -> ConsumerRunner:
        """A runner of the app's handler that counts, per record, how often it was called."""
        handler = factory(app)

        async def handle(message: DecodedMessage, record: ConsumerRecord[bytes, bytes]) -> Any:
            harness.calls[(record.topic, record.partition, record.offset)] += 1
            return await handler(message, record)

        return ConsumerRunner(
            kafka=kafka,
            topics=[harness.events.topic(catalogue_topic)],
            group_id=f"{group}-{unique}",
            handler=handle,
            dead_letters=dead_letters,
            service=SERVICE,
        )

    try:
        harness.planner = counted_runner(JobStarted.TOPIC, "planner", consumer.planner_factory)
        harness.shards, *harness.more_shards = [
            counted_runner(ShardRequested.TOPIC, "shards", consumer.shard_factory) for _ in range(shard_consumers)
        ]
        runners = [harness.planner, harness.shards, *harness.more_shards]
        for runner in runners:
            await runner.start()
        for runner in runners:
            await _assigned(runner)
    except BaseException:
        await harness.stop()
        raise
    return harness


async def _assigned(runner: ConsumerRunner, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not runner.consumer.assignment():
        if time.monotonic() > deadline:
            raise AssertionError(f"{runner.group_id} was assigned no partitions within {timeout_s} s")
        await asyncio.sleep(0.1)


async def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str, topic: str, partitions: int, *, timeout_s: float = 30
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on the topic now: read from the start up to the end offsets taken first."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end within {timeout_s} s")
            for part in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(part)
        return [r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]]
    finally:
        await consumer.stop()
