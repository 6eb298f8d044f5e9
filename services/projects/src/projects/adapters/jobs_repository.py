"""SQL for jobs and data sources of the projects schema."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from platform_common.contracts.projects import DataSourceView, JobStatus, JobView
from platform_common.events import FileIngested

_JOB_COLUMNS = ("id, project_id, status, left_dataset_id, right_dataset_id, shard_count, shards_finished, matched, "
                "review, unmatched_left, unmatched_right, detail, error_code, created_at, updated_at")
_SOURCE_COLUMNS = ("id, project_id, name, description, created_at, ingestion_status, latest_file_id, "
                   "latest_dataset_id, row_count, error_count, ingested_at")


class PgJobRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add_job(self, job_id: uuid.UUID, project_id: uuid.UUID, left: uuid.UUID, right: uuid.UUID,
                      rule_set: dict[str, Any], requested_by: uuid.UUID) -> JobView:
        row = await self._conn.fetchrow(
            f"INSERT INTO jobs (id, project_id, status, left_dataset_id, right_dataset_id, rule_set, requested_by) "
            f"VALUES ($1, $2, 'running', $3, $4, $5::jsonb, $6) RETURNING {_JOB_COLUMNS}",
            job_id, project_id, left, right, json.dumps(rule_set), requested_by,
        )
        return JobView.model_validate(dict(row))

    async def get_job(self, job_id: uuid.UUID) -> JobView | None:
        row = await self._conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
        return JobView.model_validate(dict(row)) if row else None

    async def jobs_page(self, project_id: uuid.UUID, limit: int,
                        after: tuple[datetime, uuid.UUID] | None) -> list[JobView]:
        """Newest first; up to `limit + 1` (the extra one says whether another page exists)."""
        if after is None:
            rows = await self._conn.fetch(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                project_id, limit + 1,
            )
        else:
            rows = await self._conn.fetch(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE project_id = $1 AND (created_at, id) < ($2::timestamptz, "
                f"$3::uuid) ORDER BY created_at DESC, id DESC LIMIT $4", project_id, after[0], after[1], limit + 1,
            )
        return [JobView.model_validate(dict(row)) for row in rows]

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

    async def fail_job(self, job_id: uuid.UUID, error_code: str | None, detail: str | None) -> None:
        """Only a running job fails, so the first failure's code and message are the ones kept."""
        await self._conn.execute(
            "UPDATE jobs SET status = 'failed', error_code = $2, detail = $3, updated_at = now() "
            "WHERE id = $1 AND status = 'running'", job_id, error_code, detail,
        )

    async def complete_job(self, job_id: uuid.UUID, status: JobStatus, counts: dict[str, int],
                           detail: str | None) -> None:
        await self._conn.execute(
            "UPDATE jobs SET status = $2, matched = $3, review = $4, unmatched_left = $5, unmatched_right = $6, "
            "detail = $7, updated_at = now() WHERE id = $1 AND status = 'running'",
            job_id, status.value, counts["matched"], counts["review"], counts["unmatched_left"],
            counts["unmatched_right"], detail,
        )

    async def add_data_source(self, source_id: uuid.UUID, project_id: uuid.UUID, name: str, description: str,
                              created_by: uuid.UUID) -> DataSourceView | None:
        """The new data source, or None when the project already has one by that name."""
        row = await self._conn.fetchrow(
            f"INSERT INTO data_sources (id, project_id, name, description, created_by) VALUES ($1, $2, $3, $4, $5) "
            f"ON CONFLICT (project_id, name) DO NOTHING RETURNING {_SOURCE_COLUMNS}",
            source_id, project_id, name, description, created_by,
        )
        return DataSourceView.model_validate(dict(row)) if row else None

    async def data_sources(self, project_id: uuid.UUID) -> list[DataSourceView]:
        rows = await self._conn.fetch(
            f"SELECT {_SOURCE_COLUMNS} FROM data_sources WHERE project_id = $1 ORDER BY lower(name), id", project_id
        )
        return [DataSourceView.model_validate(dict(row)) for row in rows]

    async def data_source(self, project_id: uuid.UUID, source_id: uuid.UUID) -> DataSourceView | None:
        row = await self._conn.fetchrow(
            f"SELECT {_SOURCE_COLUMNS} FROM data_sources WHERE project_id = $1 AND id = $2", project_id, source_id
        )
        return DataSourceView.model_validate(dict(row)) if row else None

    async def record_ingestion(self, event: FileIngested, occurred_at: datetime) -> None:
        """Fold an ingestion outcome into its data source; an older event never overwrites a newer one."""
        await self._conn.execute(
            "UPDATE data_sources SET latest_file_id = $3, latest_dataset_id = $4, ingestion_status = $5, "
            "row_count = $6, error_count = $7, ingested_at = $8 "
            "WHERE id = $1 AND project_id = $2 AND (ingested_at IS NULL OR ingested_at <= $8)",
            event.data_source_id, event.project_id, event.file_id, event.dataset_id, event.status, event.row_count,
            event.error_count, occurred_at,
        )
