"""Use cases of the projects service: commands from HTTP, events from Kafka."""

from __future__ import annotations

import uuid

import asyncpg

from platform_common.errors import NotFound
from platform_common.events import DecodedMessage, JobCompleted, JobProgressed, JobStarted
from platform_common.idempotency import claim
from platform_common.outbox import enqueue
from projects.adapters.repository import PgProjectRepository
from projects.config import SERVICE
from projects.domain.model import Job, JobStatus, NewJob, NewProject, Project

CONSUMER_GROUP = "projects"


async def create_project(pool: asyncpg.Pool, command: NewProject) -> Project:
    async with pool.acquire() as conn:
        return await PgProjectRepository(conn).add_project(uuid.uuid4(), command.name)


async def get_project(pool: asyncpg.Pool, project_id: uuid.UUID) -> Project:
    async with pool.acquire() as conn:
        project = await PgProjectRepository(conn).get_project(project_id)
    if project is None:
        raise NotFound("The project was not found.", code="project_not_found")
    return project


async def start_job(pool: asyncpg.Pool, project_id: uuid.UUID, command: NewJob) -> Job:
    """Create the job and its job.started event in one transaction (the outbox publishes it)."""
    async with pool.acquire() as conn, conn.transaction():
        repo = PgProjectRepository(conn)
        if await repo.get_project(project_id) is None:
            raise NotFound("The project was not found.", code="project_not_found")
        job = await repo.add_job(uuid.uuid4(), project_id, command.left_dataset_id, command.right_dataset_id,
                                 command.rule_set)
        event = JobStarted(job_id=job.id, project_id=project_id, left_dataset_id=job.left_dataset_id,
                           right_dataset_id=job.right_dataset_id, rule_set=command.rule_set)
        await enqueue(conn, event, producer=SERVICE, correlation_id=str(job.id))
        return job


async def get_job(pool: asyncpg.Pool, job_id: uuid.UUID) -> Job:
    async with pool.acquire() as conn:
        job = await PgProjectRepository(conn).get_job(job_id)
    if job is None:
        raise NotFound("The job was not found.", code="job_not_found")
    return job


async def on_job_event(pool: asyncpg.Pool, message: DecodedMessage) -> bool:
    """Fold job progress and completion into the job row, once per event."""
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=CONSUMER_GROUP, event_id=message.envelope.id):
            return False
        repo = PgProjectRepository(conn)
        event = message.event
        if isinstance(event, JobProgressed):
            if event.stage == "planned" and event.shard_count is not None:
                await repo.record_plan(event.job_id, event.shard_count)
            elif event.stage == "shard_finished":
                await repo.record_shard_finished(event.job_id)
        elif isinstance(event, JobCompleted):
            counts = {"matched": event.matched, "review": event.review, "unmatched_left": event.unmatched_left,
                      "unmatched_right": event.unmatched_right}
            await repo.complete_job(event.job_id, JobStatus(event.status), counts, event.detail)
        return True
