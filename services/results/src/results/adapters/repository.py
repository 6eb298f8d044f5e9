"""SQL of the results schema."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from platform_common.events import MatchBatchProduced


class PgResultsRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_job(self, batch: MatchBatchProduced) -> str:
        """Create the job on its first batch and lock it, so concurrent batches complete it exactly once. A job
        that failed before its first batch gets its project and shard count from the batch."""
        await self._conn.execute(
            "INSERT INTO jobs (job_id, project_id, shard_count) VALUES ($1, $2, $3) ON CONFLICT (job_id) DO UPDATE "
            "SET project_id = coalesce(jobs.project_id, excluded.project_id), "
            "shard_count = coalesce(jobs.shard_count, excluded.shard_count) "
            "WHERE jobs.project_id IS NULL OR jobs.shard_count IS NULL",
            batch.job_id, batch.project_id, batch.shard_count,
        )
        status: str = await self._conn.fetchval("SELECT status FROM jobs WHERE job_id = $1 FOR UPDATE", batch.job_id)
        return status

    async def add_batch(self, batch: MatchBatchProduced) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO shard_batches (job_id, shard_no, batch_seq, is_last) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING RETURNING true",
            batch.job_id, batch.shard_no, batch.batch_seq, batch.is_last,
        )
        if not inserted:
            return False
        if batch.matches:
            await self._conn.executemany(
                "INSERT INTO matches (job_id, shard_no, pass_name, left_ids, right_ids, score, status, explanation) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
                [(batch.job_id, batch.shard_no, m.pass_name, m.left_ids, m.right_ids, m.score, m.status,
                  json.dumps(m.explanation)) for m in batch.matches],
            )
        if batch.unmatched:
            await self._conn.executemany(
                "INSERT INTO unmatched (job_id, side, record_id, explanation) VALUES ($1, $2, $3, $4::jsonb) "
                "ON CONFLICT DO NOTHING",
                [(batch.job_id, u.side, u.record_id, json.dumps(u.explanation)) for u in batch.unmatched],
            )
        return True

    async def complete_shards(self, job_id: uuid.UUID) -> int:
        """Shards whose last batch arrived and whose batches are all present (0..last without gaps)."""
        count: int = await self._conn.fetchval(
            "SELECT count(*) FROM (SELECT shard_no FROM shard_batches WHERE job_id = $1 GROUP BY shard_no "
            "HAVING bool_or(is_last) AND count(*) = max(batch_seq) + 1) AS complete", job_id,
        )
        return count

    async def finish_job(self, job_id: uuid.UUID) -> dict[str, int]:
        await self._conn.execute(
            "UPDATE jobs SET status = 'succeeded', completed_at = now() WHERE job_id = $1", job_id
        )
        return await self.counts(job_id)

    async def fail_job(self, job_id: uuid.UUID, project_id: uuid.UUID | None, error_code: str | None,
                       detail: str | None) -> None:
        """Fail a running (or not yet seen) job; a finished job keeps its outcome and its first failure. The
        project, when the event names it, lets the results API answer for a job that failed before any batch."""
        await self._conn.execute(
            "INSERT INTO jobs (job_id, project_id, status, error_code, detail, completed_at) "
            "VALUES ($1, $2, 'failed', $3, $4, now()) "
            "ON CONFLICT (job_id) DO UPDATE SET status = 'failed', error_code = excluded.error_code, "
            "detail = excluded.detail, completed_at = excluded.completed_at, "
            "project_id = coalesce(jobs.project_id, excluded.project_id) WHERE jobs.status = 'running'",
            job_id, project_id, error_code, detail,
        )

    async def counts(self, job_id: uuid.UUID) -> dict[str, int]:
        row = await self._conn.fetchrow(
            "SELECT (SELECT count(*) FROM matches WHERE job_id = $1 AND status = 'auto') AS matched, "
            "(SELECT count(*) FROM matches WHERE job_id = $1 AND status = 'review') AS review, "
            "(SELECT count(*) FROM unmatched WHERE job_id = $1 AND side = 'left') AS unmatched_left, "
            "(SELECT count(*) FROM unmatched WHERE job_id = $1 AND side = 'right') AS unmatched_right", job_id,
        )
        return dict(row)

    async def job_summary(self, job_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            "SELECT job_id, project_id, shard_count, status, error_code, detail, completed_at FROM jobs "
            "WHERE job_id = $1", job_id
        )
        if row is None:
            return None
        return {**dict(row), **await self.counts(job_id)}
