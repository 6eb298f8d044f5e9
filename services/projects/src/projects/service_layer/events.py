"""Events the projects service folds into its state: job progress and completion, file ingestion."""

from __future__ import annotations

from platform_common.contracts.projects import JobStatus
from platform_common.events import DecodedMessage, FileIngested, JobCompleted, JobProgressed
from platform_common.idempotency import claim
from projects.adapters.jobs_repository import PgJobRepository
from projects.service_layer.deps import Deps, job_tag


async def on_event(deps: Deps, message: DecodedMessage, *, consumer: str) -> bool:
    """Apply the event once (inbox); False for a duplicate. Cached job status is invalidated after commit."""
    event = message.event
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=consumer, event_id=message.envelope.id):
            return False
        repo = PgJobRepository(conn)
        if isinstance(event, JobProgressed):
            if event.stage == "planned" and event.shard_count is not None:
                await repo.record_plan(event.job_id, event.shard_count)
            elif event.stage == "shard_finished":
                await repo.record_shard_finished(event.job_id)
            elif event.stage == "failed":
                await repo.fail_job(event.job_id, event.error_code, event.detail)
        elif isinstance(event, JobCompleted):
            counts = {"matched": event.matched, "review": event.review, "unmatched_left": event.unmatched_left,
                      "unmatched_right": event.unmatched_right}
            await repo.complete_job(event.job_id, JobStatus(event.status), counts, event.detail)
        elif isinstance(event, FileIngested):
            await repo.record_ingestion(event, message.envelope.occurred_at)
    if isinstance(event, JobProgressed | JobCompleted):
        await deps.cache.invalidate(job_tag(event.job_id))
    return True
