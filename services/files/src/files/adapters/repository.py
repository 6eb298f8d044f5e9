"""SQL for files and data sources (the files schema)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from platform_common.events import FileUploaded

LIVE_STATUSES = ("received", "ingesting", "committed")

_FILE_COLUMNS = (
    "f.id, f.project_id, f.data_source_id, f.object_uri, f.filename, f.sha256, f.size_bytes, f.origin, f.status, "
    "f.on_error, f.content_type, f.uploaded_by, f.duplicate_of, f.problem, f.received_at, f.updated_at, "
    "d.id AS dataset_id, d.row_count, d.error_count, d.skipped_duplicates"
)
# The latest dataset of the file (committed or rejected), if any.
_FILE_FROM = (
    "FROM files f LEFT JOIN LATERAL (SELECT id, row_count, error_count, skipped_duplicates FROM datasets "
    "WHERE file_id = f.id ORDER BY created_at DESC LIMIT 1) d ON true"
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def file_view(row: asyncpg.Record) -> dict[str, Any]:
    view = dict(row)
    view["problem"] = _json(view["problem"])
    return view


class PgFilesRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add_upload(self, *, file_id: uuid.UUID, project_id: uuid.UUID, data_source_id: uuid.UUID,
                         object_uri: str, filename: str, sha256: str, size_bytes: int, on_error: str,
                         mapping: dict[str, Any] | None, parse_options: dict[str, Any] | None,
                         content_type: str | None, uploaded_by: uuid.UUID | None) -> uuid.UUID | None:
        """Insert an uploaded file; None when the same bytes are already live in the data source."""
        inserted: uuid.UUID | None = await self._conn.fetchval(
            "INSERT INTO files (id, project_id, data_source_id, object_uri, filename, sha256, size_bytes, origin, "
            "status, on_error, mapping, parse_options, content_type, uploaded_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, 'upload', 'received', $8, $9, $10, $11, $12) "
            "ON CONFLICT (data_source_id, sha256) WHERE sha256 IS NOT NULL "
            "AND status IN ('received', 'ingesting', 'committed') DO NOTHING RETURNING id",
            file_id, project_id, data_source_id, object_uri, filename, sha256, size_bytes, on_error,
            None if mapping is None else json.dumps(mapping),
            None if parse_options is None else json.dumps(parse_options), content_type, uploaded_by,
        )
        return inserted

    async def find_live_copy(self, data_source_id: uuid.UUID, sha256: str,
                             excluding: uuid.UUID | None = None) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"SELECT {_FILE_COLUMNS} {_FILE_FROM} WHERE f.data_source_id = $1 AND f.sha256 = $2 "
            "AND f.status = ANY($3::text[]) AND f.id IS DISTINCT FROM $4 ORDER BY f.received_at LIMIT 1",
            data_source_id, sha256, list(LIVE_STATUSES), excluding,
        )
        return file_view(row) if row else None

    async def add_external(self, event: FileUploaded) -> bool:
        """Register a dropped-off file; False if the file id is already known."""
        inserted = await self._conn.fetchval(
            "INSERT INTO files (id, project_id, data_source_id, object_uri, filename, sha256, size_bytes, origin, "
            "status, on_error, content_type, uploaded_by) "
            "VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, 'received', $8, $9, $10) "
            "ON CONFLICT (id) DO NOTHING RETURNING true",
            event.file_id, event.project_id, event.data_source_id, event.object_uri, event.filename,
            event.size_bytes, event.origin, event.on_error, event.content_type, event.uploaded_by,
        )
        return bool(inserted)

    async def get(self, file_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(f"SELECT {_FILE_COLUMNS} {_FILE_FROM} WHERE f.id = $1", file_id)
        return file_view(row) if row else None

    async def ingestion_inputs(self, file_id: uuid.UUID) -> asyncpg.Record | None:
        return await self._conn.fetchrow(
            "SELECT f.id, f.project_id, f.data_source_id, f.object_uri, f.filename, f.sha256, f.status, "
            "f.on_error, f.origin, coalesce(f.mapping, s.mapping) AS mapping, "
            "coalesce(f.parse_options, s.parse_options) AS parse_options "
            "FROM files f JOIN data_sources s ON s.id = f.data_source_id WHERE f.id = $1",
            file_id,
        )

    async def start_ingesting(self, file_id: uuid.UUID, *, sha256: str, size_bytes: int) -> bool:
        """Mark the file ingesting with its content's hash, which holds the data source's slot for those bytes
        (files_live_content); False, and nothing changed, when another live file of the data source has them.
        A copy still being written by a concurrent transaction is waited for: the index decides the race."""
        try:
            async with self._conn.transaction():  # a savepoint inside a caller's transaction
                await self.set_status(file_id, "ingesting", sha256=sha256, size_bytes=size_bytes)
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != "files_live_content":
                raise
            return False
        return True

    async def set_status(self, file_id: uuid.UUID, status: str, *, problem: dict[str, Any] | None = None,
                         sha256: str | None = None, size_bytes: int | None = None,
                         duplicate_of: uuid.UUID | None = None) -> None:
        await self._conn.execute(
            "UPDATE files SET status = $2, problem = $3, sha256 = coalesce(sha256, $4), "
            "size_bytes = coalesce(size_bytes, $5), duplicate_of = $6, updated_at = now() WHERE id = $1",
            file_id, status, None if problem is None else json.dumps(problem), sha256, size_bytes, duplicate_of,
        )


class PgDataSourcesRepository:
    """Data sources registered with the files service (projects owns them) and their mapping templates."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def register(self, *, data_source_id: uuid.UUID, project_id: uuid.UUID, name: str) -> dict[str, Any] | None:
        """Remember a data source the projects service confirmed; None if the id belongs to another project."""
        row = await self._conn.fetchrow(
            "INSERT INTO data_sources (id, project_id, name) VALUES ($1, $2, $3) "
            "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name WHERE data_sources.project_id = EXCLUDED.project_id "
            f"RETURNING {_SOURCE_COLUMNS}",
            data_source_id, project_id, name,
        )
        return _source_view(row) if row else None

    async def get(self, project_id: uuid.UUID, data_source_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"SELECT {_SOURCE_COLUMNS} FROM data_sources WHERE id = $1 AND project_id = $2", data_source_id, project_id)
        return _source_view(row) if row else None

    async def get_by_name(self, project_id: uuid.UUID, name: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"SELECT {_SOURCE_COLUMNS} FROM data_sources WHERE project_id = $1 AND name = $2 "
            "ORDER BY created_at LIMIT 1", project_id, name)
        return _source_view(row) if row else None

    async def save_template(self, project_id: uuid.UUID, data_source_id: uuid.UUID, *,
                            mapping: dict[str, Any] | None, parse_options: dict[str, Any]) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            "UPDATE data_sources SET mapping = $3, parse_options = $4, updated_at = now() "
            f"WHERE id = $1 AND project_id = $2 RETURNING {_SOURCE_COLUMNS}",
            data_source_id, project_id, None if mapping is None else json.dumps(mapping), json.dumps(parse_options),
        )
        return _source_view(row) if row else None


_SOURCE_COLUMNS = "id, project_id, name, mapping, parse_options, created_at, updated_at"


def _source_view(row: asyncpg.Record) -> dict[str, Any]:
    view = dict(row)
    view["mapping"] = _json(view["mapping"])
    view["parse_options"] = _json(view["parse_options"])
    return view
