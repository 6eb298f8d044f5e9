"""Reading canonical records (the files service's read model), storing shard plans, job failures and the
worker processes shards lost.

Records are streamed out of Postgres with COPY ... TO STDOUT (CSV) and parsed by Polars: one round trip,
no per-row Python objects, so a million-row dataset loads in seconds with bounded overhead.
"""

from __future__ import annotations

import io
import uuid
from typing import NamedTuple

import asyncpg
import polars as pl

from platform_common.db import timed

_COLUMNS = (
    "record_id",
    "external_id",
    "amount",
    "currency",
    "value_date",
    "booking_date",
    "reference",
    "counterparty",
    "description",
)
_TEXT_SCHEMA = dict.fromkeys(_COLUMNS, pl.Utf8)


def _frame_from_csv(payload: bytes) -> pl.DataFrame:
    if not payload:
        return pl.DataFrame(schema=_TEXT_SCHEMA).pipe(_typed)
    return pl.read_csv(io.BytesIO(payload), schema=_TEXT_SCHEMA, has_header=False).pipe(_typed)


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("amount").str.to_decimal(scale=_scale(frame)),
        pl.col("value_date").str.to_date("%Y-%m-%d"),
        pl.col("booking_date").str.to_date("%Y-%m-%d"),
    )


def _scale(frame: pl.DataFrame) -> int:
    """The largest number of decimals any amount carries (numeric keeps what was ingested)."""
    if frame.height == 0:
        return 2
    decimals = frame["amount"].str.split_exact(".", 1).struct.field("field_1").str.len_chars().max()
    return int(decimals) if isinstance(decimals, int) else 0


class StoredPlan(NamedTuple):
    shard_count: int
    max_matches_per_batch: int | None  # None: planned before the batch size was part of the plan


class PgRecordStore:
    def __init__(self, pool: asyncpg.Pool, *, records_table: str, service: str) -> None:
        self._pool = pool
        self._records = records_table
        self._service = service

    async def load_dataset(self, dataset_id: uuid.UUID) -> pl.DataFrame:
        """Every record of a dataset, typed as the engine expects."""
        query = f"SELECT {', '.join(_COLUMNS)} FROM {self._records} WHERE dataset_id = $1 ORDER BY record_id"
        return await self._copy_out(query, "load_dataset", dataset_id)

    async def load_shard(self, job_id: uuid.UUID, shard_no: int, side: str, dataset_id: uuid.UUID) -> pl.DataFrame:
        """The records of one side of one shard."""
        query = (
            f"SELECT {', '.join('r.' + c for c in _COLUMNS)} FROM {self._records} r "
            f"JOIN shard_members m ON m.record_id = r.record_id "
            "WHERE r.dataset_id = $1 AND m.job_id = $2 AND m.side = $3 AND m.shard_no = $4 "
            "ORDER BY r.record_id"
        )
        return await self._copy_out(query, "load_shard", dataset_id, job_id, side, shard_no)

    async def _copy_out(self, query: str, operation: str, *args: object) -> pl.DataFrame:
        buffer = io.BytesIO()

        async def write(chunk: bytes) -> None:
            buffer.write(chunk)

        async with timed(self._service, operation), self._pool.acquire() as conn:
            await conn.copy_from_query(query, *args, output=write, format="csv")
        return _frame_from_csv(buffer.getvalue())

    async def stored_plan(self, job_id: uuid.UUID) -> StoredPlan | None:
        """Shard count and batch size of the job's stored plan, if it was planned before."""
        row = await self._pool.fetchrow(
            "SELECT shard_count, max_matches_per_batch FROM job_plans WHERE job_id = $1", job_id
        )
        return None if row is None else StoredPlan(row["shard_count"], row["max_matches_per_batch"])

    async def save_plan(
        self,
        job_id: uuid.UUID,
        *,
        shard_count: int,
        max_matches_per_batch: int,
        strategy: str,
        members: list[tuple[str, int, str]],
        left_rows: int,
        right_rows: int,
    ) -> StoredPlan:
        """Store the job's plan unless one exists; return the plan that holds.

        The first plan wins: a redelivered job.started planned by another replica (say a canary with a
        different shard or batch setting) must not change shards that may already be running.
        """
        async with timed(self._service, "save_plan"), self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO job_plans (job_id, shard_count, max_matches_per_batch, strategy, left_rows, right_rows) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id) DO NOTHING RETURNING shard_count",
                job_id, shard_count, max_matches_per_batch, strategy, left_rows, right_rows,
            )  # fmt: skip
            if inserted is None:
                row = await conn.fetchrow(
                    "SELECT shard_count, max_matches_per_batch FROM job_plans WHERE job_id = $1", job_id
                )
                return StoredPlan(row["shard_count"], row["max_matches_per_batch"])
            await conn.copy_records_to_table(
                "shard_members",
                columns=["job_id", "side", "shard_no", "record_id"],
                records=((job_id, side, shard, record_id) for side, shard, record_id in members),
            )
            return StoredPlan(shard_count, max_matches_per_batch)

    async def record_failure(self, job_id: uuid.UUID, shard_no: int, error_code: str, detail: str) -> None:
        """Keep the job's first failure; a later one (another shard, a redelivery) changes nothing."""
        async with timed(self._service, "record_failure"):
            await self._pool.execute(
                "INSERT INTO job_failures (job_id, shard_no, error_code, detail) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (job_id) DO NOTHING",
                job_id, shard_no, error_code, detail,
            )  # fmt: skip

    async def has_failed(self, job_id: uuid.UUID) -> bool:
        """True once a shard of the job has failed it."""
        found = await self._pool.fetchval("SELECT EXISTS (SELECT 1 FROM job_failures WHERE job_id = $1)", job_id)
        return bool(found)

    async def record_worker_loss(self, job_id: uuid.UUID, shard_no: int, loss_id: uuid.UUID) -> int:
        """Count one loss of the shard's worker process (recording the same `loss_id` again counts it once);
        return how many the shard has lost, on any replica."""
        async with timed(self._service, "record_worker_loss"), self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO shard_worker_losses (job_id, shard_no, loss_id) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                job_id, shard_no, loss_id,
            )  # fmt: skip
            losses = await conn.fetchval(
                "SELECT count(*) FROM shard_worker_losses WHERE job_id = $1 AND shard_no = $2", job_id, shard_no
            )
        return int(losses)
