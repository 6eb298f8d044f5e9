"""Data sources as the files service knows them: the projects service owns them (ids, names, who may touch
them); files registers one the first time a file or a template names it, after projects confirmed it for
the caller, and owns its mapping template and parse options."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import asyncpg

from files.adapters.projects_client import DataSourceRef
from files.adapters.repository import PgDataSourcesRepository
from platform_common.errors import Conflict, NotFound


class DataSourceDirectory(Protocol):
    """The projects service's data sources, as the caller may see and create them."""

    async def find(self, project_id: uuid.UUID, data_source_id: uuid.UUID) -> DataSourceRef | None: ...

    async def create(self, project_id: uuid.UUID, name: str) -> DataSourceRef: ...


def _not_found() -> NotFound:
    return NotFound("The data source was not found.", code="data_source_not_found")


async def _register(pool: asyncpg.Pool, ref: DataSourceRef) -> dict[str, Any]:
    async with pool.acquire() as conn:
        registered = await PgDataSourcesRepository(conn).register(data_source_id=ref.id, project_id=ref.project_id,
                                                                  name=ref.name)
    if registered is None:
        raise Conflict("The data source belongs to another project.", code="data_source_conflict")
    return registered


async def by_id(pool: asyncpg.Pool, directory: DataSourceDirectory, project_id: uuid.UUID,
                data_source_id: uuid.UUID) -> dict[str, Any]:
    """The registered data source, registering it once projects confirms it exists in the project."""
    async with pool.acquire() as conn:
        known = await PgDataSourcesRepository(conn).get(project_id, data_source_id)
    if known is not None:
        return known
    ref = await directory.find(project_id, data_source_id)
    if ref is None or ref.project_id != project_id:
        raise _not_found()
    return await _register(pool, ref)


async def by_name(pool: asyncpg.Pool, directory: DataSourceDirectory, project_id: uuid.UUID,
                  name: str) -> dict[str, Any]:
    """The data source of that name, created in projects on the first upload that names it."""
    async with pool.acquire() as conn:
        known = await PgDataSourcesRepository(conn).get_by_name(project_id, name)
    if known is not None:
        return known
    return await _register(pool, await directory.create(project_id, name))


async def save_template(pool: asyncpg.Pool, directory: DataSourceDirectory, project_id: uuid.UUID,
                        data_source_id: uuid.UUID, *, mapping: dict[str, Any],
                        parse_options: dict[str, Any]) -> dict[str, Any]:
    await by_id(pool, directory, project_id, data_source_id)
    async with pool.acquire() as conn:
        saved = await PgDataSourcesRepository(conn).save_template(project_id, data_source_id, mapping=mapping,
                                                                  parse_options=parse_options)
    if saved is None:
        raise _not_found()
    return saved


async def template(pool: asyncpg.Pool, directory: DataSourceDirectory, project_id: uuid.UUID,
                   data_source_id: uuid.UUID) -> dict[str, Any]:
    """The mapping template and parse options (both empty until saved)."""
    return await by_id(pool, directory, project_id, data_source_id)
