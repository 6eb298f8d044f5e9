"""SQL of the files schema."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from platform_common.events import FileUploaded


class PgFilesRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add_received(self, event: FileUploaded) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO files (id, project_id, data_source_id, object_uri, filename, sha256, size_bytes, origin, "
            "status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'received') ON CONFLICT (id) DO NOTHING RETURNING true",
            event.file_id, event.project_id, event.data_source_id, event.object_uri, event.filename, event.sha256,
            event.size_bytes, event.origin,
        )
        return bool(inserted)

    async def get(self, file_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            "SELECT id, project_id, data_source_id, filename, sha256, size_bytes, origin, status, received_at "
            "FROM files WHERE id = $1", file_id,
        )
        return dict(row) if row else None
