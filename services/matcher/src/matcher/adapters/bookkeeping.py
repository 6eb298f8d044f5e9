"""Retention of the matcher's bookkeeping: a job's plan and shard members, its failure and its worker losses.

The matcher does not see a job finish (its shards' results are counted elsewhere), so a job counts as done
once every row it has here is older than the cutoff: its plan, its failure and each of its worker losses
(shard members are written with the plan, in its transaction, and share its time). A job is deleted whole,
its plan last: a run cut short leaves the plan behind, and with it the time that finds the job again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from platform_common.db import timed

# The tables holding a job's rows, each with the column that says when its row was written (None: the
# plan's time applies), in the order they are deleted.
_JOB_TABLES: tuple[tuple[str, str | None], ...] = (
    ("shard_members", None),
    ("shard_worker_losses", "lost_at"),
    ("job_failures", "failed_at"),
    ("job_plans", "planned_at"),
)
_TIMED_TABLES = [(table, column) for table, column in _JOB_TABLES if column is not None]


def _expired_jobs_query() -> str:
    """Jobs with a row older than the cutoff ($1) and none newer, at most $2 of them."""
    old = " UNION ".join(f"SELECT job_id FROM {table} WHERE {column} < $1" for table, column in _TIMED_TABLES)
    none_newer = " AND ".join(
        f"NOT EXISTS (SELECT 1 FROM {table} t WHERE t.job_id = old.job_id AND t.{column} >= $1)"
        for table, column in _TIMED_TABLES
    )
    return f"SELECT job_id FROM ({old}) old WHERE {none_newer} LIMIT $2"


_EXPIRED_JOBS = _expired_jobs_query()


class PgBookkeeping:
    def __init__(self, pool: asyncpg.Pool, *, service: str) -> None:
        self._pool = pool
        self._service = service

    async def expired_jobs(self, cutoff: datetime, *, limit: int) -> list[uuid.UUID]:
        """Up to `limit` jobs whose every row here was written before `cutoff`."""
        async with timed(self._service, "expired_jobs"):
            rows = await self._pool.fetch(_EXPIRED_JOBS, cutoff, limit)
        return [row["job_id"] for row in rows]

    async def delete_jobs(self, job_ids: list[uuid.UUID], *, rows_per_statement: int) -> dict[str, int]:
        """Delete every row of these jobs, table by table, at most `rows_per_statement` rows per statement (a
        big job holds a shard member per record: one statement for them all would hold its locks and bloat
        the WAL at once); return the rows deleted per table. Deleting again deletes nothing."""
        deleted: dict[str, int] = {}
        async with timed(self._service, "delete_jobs"):
            for table, _ in _JOB_TABLES:
                deleted[table] = 0
                while True:
                    status = await self._pool.execute(
                        f"DELETE FROM {table} WHERE ctid = ANY (ARRAY("
                        f"SELECT ctid FROM {table} WHERE job_id = ANY ($1::uuid[]) LIMIT $2))",
                        job_ids, rows_per_statement,
                    )  # fmt: skip
                    count = int(status.split()[-1])
                    deleted[table] += count
                    if count < rows_per_statement:
                        break
        return deleted
