"""The inbox: exactly-once effects for at-least-once delivery."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

T = TypeVar("T")


async def claim(conn: asyncpg.Connection, *, consumer: str, event_id: uuid.UUID) -> bool:
    """Record that `consumer` handles `event_id`; False if it already did. Call inside the handler's transaction.

    A concurrent duplicate (after a rebalance) blocks on the primary key until the first transaction ends,
    then sees the conflict: the two never both apply their effects.
    """
    inserted = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        consumer, event_id,
    )
    return bool(inserted)


async def handle_once(pool: asyncpg.Pool, *, consumer: str, event_id: uuid.UUID,
                      work: Callable[[asyncpg.Connection], Awaitable[object]]) -> bool:
    """Run `work` in a transaction together with the inbox claim; False (nothing done) for a duplicate."""
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=consumer, event_id=event_id):
            return False
        await work(conn)
        return True
