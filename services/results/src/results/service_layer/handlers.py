"""Results use cases: store match batches once, complete the job when every shard is in, fail it when the
matcher says it failed."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from platform_common.errors import NotFound
from platform_common.events import DecodedMessage, JobCompleted, JobProgressed, MatchBatchProduced
from platform_common.idempotency import claim
from platform_common.outbox import enqueue
from results.adapters.repository import PgResultsRepository
from results.config import SERVICE


async def store_batch(pool: asyncpg.Pool, message: DecodedMessage, *, consumer: str) -> bool:
    """A batch of a job that is no longer running is dropped: late batches of a failed job (shards that were
    already running when it failed) must not complete it as succeeded."""
    batch = message.event
    assert isinstance(batch, MatchBatchProduced)
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=consumer, event_id=message.envelope.id):
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


async def record_progress(pool: asyncpg.Pool, message: DecodedMessage, *, consumer: str) -> bool:
    """Only a failure matters here (results counts shards from their batches); the first one is kept."""
    progress = message.event
    assert isinstance(progress, JobProgressed)
    if progress.stage != "failed":
        return True
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=consumer, event_id=message.envelope.id):
            return False
        await PgResultsRepository(conn).fail_job(progress.job_id, progress.project_id, progress.error_code,
                                                 progress.detail)
    return True


async def job_summary(pool: asyncpg.Pool, job_id: uuid.UUID) -> dict[str, Any]:
    """The job's status (running, succeeded, or failed with the engine's error_code and detail) and the counts
    of what is stored; a failed job's counts cover only the batches that arrived before it failed."""
    async with pool.acquire() as conn:
        summary = await PgResultsRepository(conn).job_summary(job_id)
    # A job that failed before its first batch, reported by a matcher that did not name the project, has no
    # known project, so no caller can be authorized for it: it answers like a job with no results yet
    # (projects' job view says it failed, with the code).
    if summary is None or summary["project_id"] is None:
        raise NotFound("No results exist for this job yet.", code="results_not_found")
    return summary
