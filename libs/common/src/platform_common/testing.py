"""Helpers for tests that run against a real broker (throwaway topics, draining a topic) or a real socket (raw
HTTP bytes no client library would send)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http.client import HTTPMessage, parse_headers

from aiohttp import web
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from platform_common.events import Event, register
from platform_common.http import ProblemAppRunner
from platform_common.topics import dlq_name


async def create_topics(bootstrap: str, *names: str, partitions: int = 4, with_dlq: bool = True) -> None:
    """Create topics (and their dead-letter topics) for one test."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
        if with_dlq:
            topics += [NewTopic(dlq_name(n), num_partitions=1, replication_factor=1) for n in names]
        await admin.create_topics(topics)
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for n in names for t in (n, dlq_name(n)) if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def read_all(bootstrap: str, topic: str, *, expected: int, timeout_s: float = 30.0
                   ) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the start (no group) until `expected` records arrived or the time is up."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        if not partitions:
            raise AssertionError(f"topic {topic} does not exist")
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    # A consumer without a subscription has no metadata of its own for the topic: ask the cluster.
    metadata = await consumer._client.fetch_all_metadata()
    return set(metadata.partitions_for_topic(topic) or ())


async def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int | None]:
    """The group's committed offset per partition, read without joining the group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in sorted(partitions)}
    finally:
        await consumer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 60.0, every_s: float = 0.2) -> None:
    """Poll `check` until it is true; fail with AssertionError when the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


@asynccontextmanager
async def served_on_a_free_port(app: web.Application) -> AsyncIterator[int]:
    """`app` on 127.0.0.1 through the runner services use in production; yields the port."""
    runner = ProblemAppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def raw_http_exchange(port: int, request: bytes, *, timeout_s: float = 10.0
                            ) -> tuple[int, HTTPMessage, bytes]:
    """Send `request` as-is to 127.0.0.1:`port` and read until the server closes: (status, headers, body);
    header names are case-insensitive."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, _, header_lines = head.partition(b"\r\n")
    return int(status_line.split()[1]), parse_headers(io.BytesIO(header_lines + b"\r\n\r\n")), body


@register
class ProbeEvent(Event):
    """An event for exercising the Kafka plumbing; tests send it to throwaway topics with `send_raw`."""

    TOPIC = "test.probe"
    TYPE = "test.probe"

    seq: int
    behaviour: str = "ok"  # ok | permanent | transient_once | slow

    def partition_key(self) -> bytes:
        return str(self.seq).encode()
