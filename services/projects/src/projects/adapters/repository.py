"""SQL for projects and jobs; nothing outside this module writes SQL for the projects schema."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from projects.domain.model import Job, JobStatus, Project

_JOB_COLUMNS = ("id, project_id, status, left_dataset_id, right_dataset_id, shard_count, shards_finished, matched, "
                "review, unmatched_left, unmatched_right, detail, created_at, updated_at")


class PgProjectRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add_project(self, project_id: uuid.UUID, name: str) -> Project:
        row = await self._conn.fetchrow(
            "INSERT INTO projects (id, name) VALUES ($1, $2) RETURNING id, name, created_at", project_id, name
        )
        return Project.model_validate(dict(row))

    async def get_project(self, project_id: uuid.UUID) -> Project | None:
        row = await self._conn.fetchrow("SELECT id, name, created_at FROM projects WHERE id = $1", project_id)
        return Project.model_validate(dict(row)) if row else None

    async def add_job(self, job_id: uuid.UUID, project_id: uuid.UUID, left: uuid.UUID, right: uuid.UUID,
                      rule_set: dict[str, Any]) -> Job:
        row = await self._conn.fetchrow(
            f"INSERT INTO jobs (id, project_id, status, left_dataset_id, right_dataset_id, rule_set) "
            f"VALUES ($1, $2, 'running', $3, $4, $5::jsonb) RETURNING {_JOB_COLUMNS}",
            job_id, project_id, left, right, json.dumps(rule_set),
        )
        return Job.model_validate(dict(row))

    async def get_job(self, job_id: uuid.UUID) -> Job | None:
        row = await self._conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
        return Job.model_validate(dict(row)) if row else None

    async def record_plan(self, job_id: uuid.UUID, shard_count: int) -> None:
        await self._conn.execute(
            "UPDATE jobs SET shard_count = $2, updated_at = now() WHERE id = $1 AND status = 'running'",
            job_id, shard_count,
        )

    async def record_shard_finished(self, job_id: uuid.UUID) -> None:
        await self._conn.execute(
            "UPDATE jobs SET shards_finished = shards_finished + 1, updated_at = now() "
            "WHERE id = $1 AND status = 'running'", job_id,
        )

    async def complete_job(self, job_id: uuid.UUID, status: JobStatus, counts: dict[str, int],
                           detail: str | None) -> None:
        await self._conn.execute(
            "UPDATE jobs SET status = $2, matched = $3, review = $4, unmatched_left = $5, unmatched_right = $6, "
            "detail = $7, updated_at = now() WHERE id = $1",
            job_id, status.value, counts["matched"], counts["review"], counts["unmatched_left"],
            counts["unmatched_right"], detail,
        )
