"""Job and data-source use cases. Starting a job writes the job and its job.started event in one
transaction (the outbox publishes it)."""

from __future__ import annotations

import json
import uuid

from platform_common.auth import Identity
from platform_common.contracts.projects import (
    DataSourceCreate,
    DataSourceList,
    DataSourceView,
    JobCreate,
    JobListQuery,
    JobPage,
    JobView,
)
from platform_common.errors import Conflict, NotFound
from platform_common.events import JobStarted
from platform_common.outbox import enqueue
from projects.adapters.jobs_repository import PgJobRepository
from projects.adapters.repository import PgProjectRepository
from projects.config import SERVICE
from projects.domain.cursor import decode_cursor, encode_cursor
from projects.domain.permissions import Action, ensure_changeable
from projects.service_layer.deps import JOB_STATUS, Deps, cached_role, checked, job_tag, user_tags

_JOB_SORT = "-created_at"


def _job_not_found() -> NotFound:
    return NotFound("The job was not found.", code="job_not_found")


async def start_job(deps: Deps, caller: Identity, project_id: uuid.UUID, command: JobCreate) -> JobView:
    async with deps.pool.acquire() as conn, conn.transaction():
        projects = PgProjectRepository(conn)
        membership = await projects.membership(project_id, caller.user_id, lock="share")
        checked(membership.role if membership else None, Action.RUN_JOBS)
        assert membership is not None
        ensure_changeable(membership.status, Action.RUN_JOBS)
        job = await PgJobRepository(conn).add_job(uuid.uuid4(), project_id, command.left_dataset_id,
                                                  command.right_dataset_id, command.rule_set, caller.user_id)
        event = JobStarted(job_id=job.id, project_id=project_id, left_dataset_id=job.left_dataset_id,
                           right_dataset_id=job.right_dataset_id, rule_set=command.rule_set,
                           requested_by=caller.user_id)
        await enqueue(conn, event, producer=SERVICE, correlation_id=str(job.id))
        members = await projects.member_ids(project_id)
    await deps.cache.invalidate(job_tag(job.id), *user_tags(members))  # job counts on everyone's list
    return job


async def job_status(deps: Deps, caller: Identity, job_id: uuid.UUID) -> bytes:
    """The job as JSON, from the cache when it can be; a job of a project you are not in does not exist."""

    async def load() -> bytes:
        async with deps.pool.acquire() as conn:
            job = await PgJobRepository(conn).get_job(job_id)
        return job.model_dump_json().encode() if job else b"null"

    raw = await deps.cache.get_or_load(JOB_STATUS, str(job_id), load, tags=[job_tag(job_id)])
    if raw == b"null":
        raise _job_not_found()
    project_id = uuid.UUID(json.loads(raw)["project_id"])
    checked(await cached_role(deps, project_id, caller.user_id), Action.VIEW, not_found=_job_not_found())
    return raw


async def list_jobs(deps: Deps, caller: Identity, project_id: uuid.UUID, query: JobListQuery) -> JobPage:
    checked(await cached_role(deps, project_id, caller.user_id), Action.VIEW)
    after = decode_cursor(query.cursor, _JOB_SORT) if query.cursor else None
    async with deps.pool.acquire() as conn:
        jobs = await PgJobRepository(conn).jobs_page(project_id, query.limit, after)
    items = jobs[:query.limit]
    next_cursor = encode_cursor(_JOB_SORT, items[-1].created_at, items[-1].id) if len(jobs) > query.limit else None
    return JobPage(items=items, next_cursor=next_cursor)


async def create_data_source(deps: Deps, caller: Identity, project_id: uuid.UUID, command: DataSourceCreate
                             ) -> DataSourceView:
    async with deps.pool.acquire() as conn, conn.transaction():
        projects = PgProjectRepository(conn)
        membership = await projects.membership(project_id, caller.user_id, lock="share")
        checked(membership.role if membership else None, Action.EDIT)
        assert membership is not None
        ensure_changeable(membership.status, Action.EDIT)
        source = await PgJobRepository(conn).add_data_source(uuid.uuid4(), project_id, command.name,
                                                             command.description, caller.user_id)
        if source is None:
            raise Conflict("A data source with this name already exists in the project.", code="data_source_exists")
        members = await projects.member_ids(project_id)
    await deps.cache.invalidate(*user_tags(members))  # data-source counts on everyone's list
    return source


async def list_data_sources(deps: Deps, caller: Identity, project_id: uuid.UUID) -> DataSourceList:
    checked(await cached_role(deps, project_id, caller.user_id), Action.VIEW)
    async with deps.pool.acquire() as conn:
        return DataSourceList(items=await PgJobRepository(conn).data_sources(project_id))


async def get_data_source(deps: Deps, caller: Identity, project_id: uuid.UUID, source_id: uuid.UUID
                          ) -> DataSourceView:
    checked(await cached_role(deps, project_id, caller.user_id), Action.VIEW)
    async with deps.pool.acquire() as conn:
        source = await PgJobRepository(conn).data_source(project_id, source_id)
    if source is None:
        raise NotFound("The data source was not found.", code="data_source_not_found")
    return source
