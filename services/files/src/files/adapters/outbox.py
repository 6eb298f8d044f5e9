"""The transactional outbox with a configurable topic per event type.

platform_common.outbox.enqueue always uses the event class's topic; the files service lets an operator (and
the tests, which must not share topics with other running services) rename its two topics.
"""

from __future__ import annotations

import asyncpg

from platform_common.events import Envelope, Event, encode, wrap
from platform_common.outbox import NOTIFY_CHANNEL


async def enqueue_on(conn: asyncpg.Connection, event: Event, *, topic: str, producer: str,
                     correlation_id: str | None = None) -> Envelope:
    """Store the event in the caller's transaction for the relay to publish on `topic` after COMMIT."""
    envelope = wrap(event, producer=producer, correlation_id=correlation_id)
    await conn.execute(
        "INSERT INTO outbox (id, topic, message_key, payload) VALUES ($1, $2, $3, $4)",
        envelope.id, topic, event.partition_key(), encode(envelope),
    )
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return envelope
