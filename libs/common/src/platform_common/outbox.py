"""Transactional outbox: write the event with the state change, publish it afterwards, never lose it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from platform_common.errors import DomainError
from platform_common.events import Envelope, Event, encode, wrap
from platform_common.kafka.producer import KafkaEventPublisher

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox_ready"


async def enqueue(conn: asyncpg.Connection, event: Event, *, producer: str, correlation_id: str | None = None,
                  topic: str | None = None) -> Envelope:
    """Store the event in the caller's transaction; the relay publishes it once the transaction commits.

    `topic` overrides the event's own topic (a renamed deployment, or tests that must not share topics).
    """
    envelope = wrap(event, producer=producer, correlation_id=correlation_id)
    await conn.execute(
        "INSERT INTO outbox (id, topic, message_key, payload) VALUES ($1, $2, $3, $4)",
        envelope.id, topic or event.TOPIC, event.partition_key(), encode(envelope),
    )
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return envelope


class OutboxRelay:
    """Publishes unpublished outbox rows in order; woken by NOTIFY, with a polling fallback."""

    def __init__(self, pool: asyncpg.Pool, publisher: KafkaEventPublisher, *, poll_interval_s: float = 1.0,
                 batch_size: int = 100) -> None:
        self._pool = pool
        self._publisher = publisher
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False

    async def run(self) -> None:
        listener = await self._pool.acquire()
        try:
            await listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
            while not self._stopping:
                try:
                    published = await self.publish_pending()
                except (DomainError, OSError, asyncpg.PostgresError) as error:
                    log.warning("outbox relay pass failed, will retry: %r", error)
                    published = 0
                if published < self._batch_size:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
        finally:
            await listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            await self._pool.release(listener)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch; rows are locked so two relays (replicas) never publish the same row at once."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, topic, message_key, payload, headers FROM outbox WHERE published_at IS NULL "
                "ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            for row in rows:
                headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
                await self._publisher.send_raw(row["topic"], bytes(row["payload"]), key=row["message_key"],
                                               headers=headers, message_id=str(row["id"]))
                await conn.execute("UPDATE outbox SET published_at = now() WHERE id = $1", row["id"])
            return len(rows)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


def outbox_relay_ctx(
    pool_key: web.AppKey[asyncpg.Pool], publisher_key: web.AppKey[KafkaEventPublisher]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup context running the relay for the service's lifetime."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        relay = OutboxRelay(app[pool_key], app[publisher_key])
        task = asyncio.create_task(relay.run(), name="outbox-relay")
        try:
            yield
        finally:
            relay.stop()
            await asyncio.gather(task, return_exceptions=True)

    return context
