"""Results use cases: store match batches once, complete the job when every shard is in."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from platform_common.errors import NotFound
from platform_common.events import DecodedMessage, JobCompleted, MatchBatchProduced
from platform_common.idempotency import claim
from platform_common.outbox import enqueue
from results.adapters.repository import PgResultsRepository
from results.config import SERVICE

CONSUMER_GROUP = "results"


async def store_batch(pool: asyncpg.Pool, message: DecodedMessage) -> bool:
    batch = message.event
    assert isinstance(batch, MatchBatchProduced)
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=CONSUMER_GROUP, event_id=message.envelope.id):
            return False
        repo = PgResultsRepository(conn)
        if await repo.lock_job(batch) != "running":
            return True
        await repo.add_batch(batch)
        if await repo.complete_shards(batch.job_id) == batch.shard_count:
            counts = await repo.finish_job(batch.job_id)
            completed = JobCompleted(job_id=batch.job_id, project_id=batch.project_id, status="succeeded", **counts)
            await enqueue(conn, completed, producer=SERVICE, correlation_id=str(batch.job_id))
        return True


async def job_summary(pool: asyncpg.Pool, job_id: uuid.UUID) -> dict[str, Any]:
    async with pool.acquire() as conn:
        summary = await PgResultsRepository(conn).job_summary(job_id)
    if summary is None:
        raise NotFound("No results exist for this job yet.", code="results_not_found")
    return summary
