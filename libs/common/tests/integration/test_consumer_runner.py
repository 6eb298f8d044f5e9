"""The consumer runner against a real broker and database: a group of two members, poison messages,
transient failures, commit discipline, and a member killed with SIGKILL mid-batch."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from aiokafka import TopicPartition

from platform_common.errors import PermanentError, TransientError
from platform_common.events import encode, wrap
from platform_common.idempotency import handle_once
from platform_common.kafka.consumer import ConsumerRunner
from platform_common.kafka.producer import KafkaEventPublisher, build_producer
from platform_common.settings import KafkaSettings
from platform_common.testing import (
    ProbeEvent,
    committed_offsets,
    create_topics,
    delete_topics,
    eventually,
    read_all,
)
from platform_common.topics import dlq_name

pytestmark = pytest.mark.integration
WORKER = Path(__file__).with_name("consumer_worker.py")


def kafka_settings(bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, session_timeout_ms=6000, heartbeat_interval_ms=1000,
                         max_poll_records=25, max_attempts=4, retry_backoff_base_s=0.05, retry_backoff_max_s=0.2)


async def publish_probes(publisher: KafkaEventPublisher, topic: str, events: list[ProbeEvent]) -> None:
    for event in events:
        envelope = wrap(event, producer="test")
        await publisher.send_raw(topic, encode(envelope), key=event.partition_key(), message_id=str(envelope.id))


@pytest.fixture
async def publisher(kafka_bootstrap: str):
    producer = build_producer(kafka_settings(kafka_bootstrap), client_id="test")
    await producer.start()
    yield KafkaEventPublisher(producer, service="test", timeout_s=15)
    await producer.stop()


@pytest.fixture
async def pool(pg_dsn: str, test_schema: str):
    pool = await asyncpg.create_pool(pg_dsn, server_settings={"search_path": test_schema}, min_size=1, max_size=8)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (seq int NOT NULL, partition int NOT NULL, worker text)")
    yield pool
    await pool.close()


@pytest.fixture
async def topic(kafka_bootstrap: str, unique: str):
    name = f"it.probe.{unique}"
    await create_topics(kafka_bootstrap, name, partitions=4)
    yield name
    await delete_topics(kafka_bootstrap, name)


async def effects(pool: asyncpg.Pool) -> Counter[int]:
    return Counter(r["seq"] for r in await pool.fetch("SELECT seq FROM effects"))


async def test_group_of_two_handles_each_event_once_dead_letters_poison_and_retries_transient(
        kafka_bootstrap: str, publisher: KafkaEventPublisher, pool: asyncpg.Pool, topic: str, unique: str) -> None:
    group = f"g-{unique}"
    failed_once: set[int] = set()
    calls: Counter[int] = Counter()

    async def handle(message, record):  # type: ignore[no-untyped-def]
        event = message.event
        calls[event.seq] += 1
        if event.behaviour == "permanent":
            raise PermanentError(f"probe {event.seq} can never be processed", code="probe_rejected")
        if event.behaviour == "transient_once" and event.seq not in failed_once:
            failed_once.add(event.seq)
            raise TransientError("database blinked")

        async def effect(conn: asyncpg.Connection) -> None:
            await conn.execute("INSERT INTO effects (seq, partition) VALUES ($1, $2)", event.seq, record.partition)

        return await handle_once(pool, consumer=group, event_id=message.envelope.id, work=effect)

    kafka = kafka_settings(kafka_bootstrap)
    members = [ConsumerRunner(kafka=kafka, topics=[topic], group_id=group, handler=handle, dead_letters=publisher,
                              service="test") for _ in range(2)]
    for member in members:
        await member.start()
    try:
        behaviours = {17: "permanent", 60: "permanent", 5: "transient_once", 42: "transient_once"}
        events = [ProbeEvent(seq=i, behaviour=behaviours.get(i, "ok")) for i in range(200)]
        await publish_probes(publisher, topic, events[:100])
        # A message that is not even JSON, in the middle of the stream.
        await publisher.send_raw(topic, b"\xff not json", key=b"7")
        # The same event delivered twice (a producer retry after a lost ack looks exactly like this).
        duplicate = wrap(events[3], producer="test")
        await publisher.send_raw(topic, encode(duplicate), key=b"3")
        await publisher.send_raw(topic, encode(duplicate), key=b"3")
        await publish_probes(publisher, topic, events[100:])

        healthy = {e.seq for e in events if e.behaviour != "permanent"}

        async def all_handled() -> bool:
            return set((await effects(pool)).keys()) >= healthy

        await eventually(all_handled, timeout_s=90)
        await asyncio.sleep(1.0)  # let any stray redelivery show itself
        seen = await effects(pool)
        assert set(seen) == healthy
        # Exactly once in effect: every retry left one row, and of seq 3's three deliveries (two distinct
        # envelopes, one of them sent twice) only the two distinct envelopes took effect.
        assert {seq: n for seq, n in seen.items() if n != 1} == {3: 2}
        assert calls[5] >= 2 and calls[42] >= 2, "transient failures are retried"

        dead = await read_all(kafka_bootstrap, dlq_name(topic), expected=3, timeout_s=20)
        assert len(dead) == 3
        headers = [dict(r.headers) for r in dead]
        codes = sorted(h["x-error-code"].decode() for h in headers)
        assert codes == ["message_not_json", "probe_rejected", "probe_rejected"]
        for record, h in zip(dead, headers, strict=True):
            assert h["x-original-topic"].decode() == topic
            assert int(h["x-original-offset"].decode()) >= 0
            assert h["x-consumer-group"].decode() == group
            assert record.value is not None
        assert any(r.value == b"\xff not json" for r in dead), "the original bytes are kept"

        # Both members took part (the group really had two members sharing partitions).
        assigned = [len(m.consumer.assignment()) for m in members]
        assert all(n > 0 for n in assigned) and sum(assigned) == 4
    finally:
        for member in members:
            await member.stop()

    committed = await committed_offsets(kafka_bootstrap, group, topic)
    total = 200 + 1 + 2
    assert sum(v or 0 for v in committed.values()) == total, "every record committed once handled"


async def test_offset_is_committed_only_after_the_handler_finished(
        kafka_bootstrap: str, publisher: KafkaEventPublisher, topic: str, unique: str) -> None:
    group = f"g-{unique}"
    release = asyncio.Event()
    entered = asyncio.Event()

    async def handle(message, record):  # type: ignore[no-untyped-def]
        if message.event.seq == 1:
            entered.set()
            await release.wait()

    runner = ConsumerRunner(kafka=kafka_settings(kafka_bootstrap), topics=[topic], group_id=group, handler=handle,
                            dead_letters=publisher, service="test")
    await runner.start()
    try:
        # Same key -> same partition, in order: seq 0 then the blocking seq 1 then seq 2.
        for seq in range(3):
            envelope = wrap(ProbeEvent(seq=seq), producer="test")
            await publisher.send_raw(topic, encode(envelope), key=b"same")
        await asyncio.wait_for(entered.wait(), timeout=60)
        await asyncio.sleep(1.0)
        while_blocked = await committed_offsets(kafka_bootstrap, group, topic)
        assert all((offset or 0) <= 1 for offset in while_blocked.values()), while_blocked
        release.set()

        async def all_committed() -> bool:
            return sum(v or 0 for v in (await committed_offsets(kafka_bootstrap, group, topic)).values()) == 3

        await eventually(all_committed, timeout_s=30)
    finally:
        release.set()
        await runner.stop()


async def test_transient_failure_that_outlasts_retries_is_redelivered_not_lost(
        kafka_bootstrap: str, publisher: KafkaEventPublisher, topic: str, unique: str) -> None:
    group = f"g-{unique}"
    attempts: Counter[int] = Counter()
    handled: list[int] = []

    async def handle(message, record):  # type: ignore[no-untyped-def]
        seq = message.event.seq
        attempts[seq] += 1
        if seq == 0 and attempts[seq] <= 6:  # longer than max_attempts=4: the runner must seek back
            raise ConnectionResetError("postgres went away")
        handled.append(seq)

    runner = ConsumerRunner(kafka=kafka_settings(kafka_bootstrap), topics=[topic], group_id=group, handler=handle,
                            dead_letters=publisher, service="test", pause_after_failure_s=0.5)
    await runner.start()
    try:
        for seq in range(3):
            await publisher.send_raw(topic, encode(wrap(ProbeEvent(seq=seq), producer="test")), key=b"k")

        async def done() -> bool:
            return sorted(handled) == [0, 1, 2]

        await eventually(done, timeout_s=60)
        assert attempts[0] == 7
        assert handled == [0, 1, 2], "order within the partition is kept across the seek-back"
    finally:
        await runner.stop()
    dead = await read_all(kafka_bootstrap, dlq_name(topic), expected=1, timeout_s=3)
    assert dead == [], "infrastructure failures are never dead-lettered"


async def test_member_killed_mid_batch_loses_nothing_after_rebalance(
        kafka_bootstrap: str, pg_dsn: str, test_schema: str, pool: asyncpg.Pool, publisher: KafkaEventPublisher,
        topic: str, unique: str) -> None:
    group = f"g-{unique}"
    total = 300
    await publish_probes(publisher, topic, [ProbeEvent(seq=i) for i in range(total)])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def spawn(name: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(WORKER), kafka_bootstrap, pg_dsn, test_schema, topic, group, "0.02", name],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )

    victim, survivor = spawn("victim"), spawn("survivor")
    try:
        async def some_done_by_both() -> bool:
            workers = {r["worker"] for r in await pool.fetch("SELECT DISTINCT worker FROM effects")}
            return len(workers) == 2 and sum((await effects(pool)).values()) >= 60

        await eventually(some_done_by_both, timeout_s=90)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)

        async def everything_handled() -> bool:
            return len(await effects(pool)) == total

        await eventually(everything_handled, timeout_s=120)
        seen = await effects(pool)
        assert set(seen) == set(range(total))
        assert all(n == 1 for n in seen.values()), "no event applied twice despite redelivery"

        survivor.send_signal(signal.SIGTERM)
        output, _ = survivor.communicate(timeout=20)
        assert survivor.returncode == 0, output
        assert "stopped" in output
    finally:
        for proc in (victim, survivor):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    committed = await committed_offsets(kafka_bootstrap, group, topic)
    assert sum(v or 0 for v in committed.values()) == total


async def test_handler_that_outlasts_max_poll_interval_keeps_its_partition_and_runs_once(
        kafka_bootstrap: str, publisher: KafkaEventPublisher, topic: str, unique: str) -> None:
    # aiokafka leaves the group when getmany is not called for max_poll_interval_ms. A member whose handler
    # takes longer (a big matcher shard) would lose its partition mid-work to the other member, which would
    # handle the same record again and lose it the same way. The runner keeps polling, every partition
    # paused, while a handler runs.
    settings = kafka_settings(kafka_bootstrap).model_copy(update={"max_poll_interval_ms": 2_000,
                                                                  "max_handling_s": 6.0})
    calls: Counter[int] = Counter()
    long_one_started = asyncio.Event()
    long_partition: list[TopicPartition] = []

    async def handle(message, record):  # type: ignore[no-untyped-def]
        calls[message.event.seq] += 1
        if message.event.seq == 0:
            long_partition.append(TopicPartition(record.topic, record.partition))
            long_one_started.set()
            await asyncio.sleep(10.0)

    members = [ConsumerRunner(kafka=settings, topics=[topic], group_id=f"g-{unique}", handler=handle,
                              dead_letters=publisher, service="test") for _ in range(2)]
    for member in members:
        await member.start()
    try:
        async def both_assigned() -> bool:  # the rebalance for the second member has settled on both
            owned = [member.consumer.assignment() for member in members]
            return all(owned) and not owned[0] & owned[1] and len(owned[0] | owned[1]) == 4

        await eventually(both_assigned, timeout_s=60)
        owned = [member.consumer.assignment() for member in members]
        for seq in range(3):
            await publisher.send_raw(topic, encode(wrap(ProbeEvent(seq=seq), producer="test")), key=b"same")
        await asyncio.wait_for(long_one_started.wait(), timeout=60)
        await asyncio.sleep(3.0)  # past max_poll_interval, within max_handling_s
        assert all(member.is_alive(settings.max_poll_interval_ms / 1000) for member in members)
        await asyncio.sleep(5.0)  # past max_handling_s: a hung handler shows on liveness
        alive = {tp in member.consumer.assignment(): member.is_alive(settings.max_poll_interval_ms / 1000)
                 for member in members for tp in long_partition}
        assert alive == {True: False, False: True}, "only the member with the hung handler reports it"
        assert [member.consumer.assignment() for member in members] == owned, "no rebalance"

        async def all_committed() -> bool:
            return sum(v or 0 for v in (await committed_offsets(kafka_bootstrap, f"g-{unique}", topic)).values()) == 3

        await eventually(all_committed, timeout_s=30)
        assert calls == Counter({0: 1, 1: 1, 2: 1})
        assert all(member.consumer.paused() == set() for member in members), "paused partitions are resumed"
    finally:
        for member in members:
            await member.stop()
