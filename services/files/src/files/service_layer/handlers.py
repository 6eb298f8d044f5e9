"""Views of files, datasets and their row-level error reports."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from files.adapters.datasets import PgDatasetsRepository
from files.adapters.repository import PgFilesRepository
from platform_common.errors import NotFound


async def get_file(pool: asyncpg.Pool, file_id: uuid.UUID) -> dict[str, Any]:
    async with pool.acquire() as conn:
        found = await PgFilesRepository(conn).get(file_id)
    if found is None:
        raise NotFound("The file was not found.", code="file_not_found")
    return found


async def list_datasets(pool: asyncpg.Pool, project_id: uuid.UUID, data_source_id: uuid.UUID) -> list[dict[str, Any]]:
    """The data source's datasets, newest first (none for a source files has not ingested into yet)."""
    async with pool.acquire() as conn:
        return await PgDatasetsRepository(conn).list_for_source(project_id, data_source_id)


async def get_dataset(pool: asyncpg.Pool, dataset_id: uuid.UUID) -> dict[str, Any]:
    async with pool.acquire() as conn:
        found = await PgDatasetsRepository(conn).get(dataset_id)
    if found is None:
        raise NotFound("The dataset was not found.", code="dataset_not_found")
    return found


async def dataset_errors(pool: asyncpg.Pool, dataset_id: uuid.UUID, *, after_seq: int,
                         limit: int) -> dict[str, Any]:
    """One page of the row-level error report, with the file-level problems and the counts."""
    async with pool.acquire() as conn:
        repo = PgDatasetsRepository(conn)
        dataset = await repo.get(dataset_id)
        if dataset is None:
            raise NotFound("The dataset was not found.", code="dataset_not_found")
        errors = await repo.errors_page(dataset_id, after_seq=after_seq, limit=limit)
        reported = await repo.reported_errors(dataset_id)
    return {
        "dataset_id": dataset_id, "status": dataset["status"], "error_count": dataset["error_count"],
        # The parser keeps the first max_reported_errors (options, default 1000); the count is always exact.
        "reported_count": reported, "truncated": dataset["error_count"] > reported,
        "problems": dataset["problems"], "errors": errors,
        "next_after": errors[-1]["seq"] if len(errors) == limit else None,
    }
