"""Files use cases."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from files.adapters.repository import PgFilesRepository
from platform_common.errors import NotFound
from platform_common.events import DecodedMessage, FileUploaded
from platform_common.idempotency import claim

CONSUMER_GROUP = "files"


async def receive_file(pool: asyncpg.Pool, message: DecodedMessage) -> bool:
    """Register an uploaded or dropped-off file once; ingestion picks it up from the files table."""
    event = message.event
    assert isinstance(event, FileUploaded)
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=CONSUMER_GROUP, event_id=message.envelope.id):
            return False
        await PgFilesRepository(conn).add_received(event)
        return True


async def get_file(pool: asyncpg.Pool, file_id: uuid.UUID) -> dict[str, Any]:
    async with pool.acquire() as conn:
        found = await PgFilesRepository(conn).get(file_id)
    if found is None:
        raise NotFound("The file was not found.", code="file_not_found")
    return found
