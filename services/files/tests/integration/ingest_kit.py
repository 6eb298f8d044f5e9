"""Driving uploads and ingestions in-process against the real database: the upload use case writes the file
row and its file.uploaded event to the outbox, and that very event is handed to the consumer's handler."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from files.adapters.parser_pool import ParserPool
from files.adapters.projects_client import DataSourceRef
from files.adapters.storage import ObjectLocator
from files.adapters.storage.filesystem import FilesystemObjectStore
from files.service_layer.ingestion import IngestionDeps, receive_file
from files.service_layer.uploads import UploadForm, UploadResult, register_upload
from platform_common.events import DecodedMessage, FileIngested, FileUploaded, decode

BANK_MAPPING: dict[str, Any] = {"value_date": "Date", "amount": "Amount", "currency": "Currency",
                                "reference": "Reference", "counterparty": "Counterparty"}


def csv_bytes(*rows: str, header: str = "Date,Amount,Currency,Reference,Counterparty") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


class InMemoryDirectory:
    """Stands in for the projects service's data-source API (the service tests use an HTTP stub of it)."""

    def __init__(self) -> None:
        self.sources: dict[tuple[uuid.UUID, str], DataSourceRef] = {}

    async def find(self, project_id: uuid.UUID, data_source_id: uuid.UUID) -> DataSourceRef | None:
        return next((ref for ref in self.sources.values() if ref.id == data_source_id), None)

    async def create(self, project_id: uuid.UUID, name: str) -> DataSourceRef:
        return self.sources.setdefault((project_id, name), DataSourceRef(uuid.uuid4(), project_id, name))


@dataclass
class Ingestor:
    pool: asyncpg.Pool
    store: FilesystemObjectStore
    deps: IngestionDeps
    project_id: uuid.UUID
    directory: InMemoryDirectory

    async def upload(self, data: bytes, *, source: str = "bank", filename: str = "statement.csv",
                     mapping: dict[str, Any] | None = None, on_error: str | None = None,
                     project_id: uuid.UUID | None = None) -> tuple[UploadResult, DecodedMessage | None]:
        staged = await self.store.stage(one_chunk(data), max_bytes=100 * 1024 * 1024)
        form = UploadForm(project_id=project_id or self.project_id, filename=filename, data_source_name=source,
                          on_error=on_error, mapping=mapping if mapping is not None else BANK_MAPPING)
        result = await register_upload(self.pool, self.store, staged, form, directory=self.directory)
        if result.duplicate:
            return result, None
        async with self.pool.acquire() as conn:
            payload = await conn.fetchval(
                "SELECT payload FROM outbox WHERE topic = $1 AND convert_from(payload, 'UTF8')::jsonb "
                "-> 'data' ->> 'file_id' = $2", FileUploaded.TOPIC, str(result.file["id"]))
        return result, decode(bytes(payload))

    async def ingest(self, data: bytes, **kwargs: Any) -> dict[str, Any]:
        """Upload, ingest, and return the file as the service reports it."""
        result, message = await self.upload(data, **kwargs)
        assert message is not None, "the bytes were already stored in this data source"
        await receive_file(self.deps, message)
        return await self.file(result.file["id"])

    async def file(self, file_id: uuid.UUID) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT f.*, d.id AS dataset_id, d.status AS dataset_status, d.row_count, d.error_count, "
                "d.skipped_duplicates FROM files f LEFT JOIN datasets d ON d.file_id = f.id WHERE f.id = $1",
                file_id)
        assert row is not None
        found = dict(row)
        found["problem"] = json.loads(found["problem"]) if found["problem"] else None
        return found

    async def records(self, dataset_id: uuid.UUID, *columns: str) -> list[tuple[Any, ...]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM records WHERE dataset_id = $1 "
                                    "ORDER BY line_no", dataset_id)
        return [tuple(row) for row in rows]

    async def fingerprint_scheme(self, dataset_id: uuid.UUID) -> int:
        async with self.pool.acquire() as conn:
            scheme: int = await conn.fetchval("SELECT fingerprint_scheme FROM datasets WHERE id = $1", dataset_id)
        return scheme

    async def ingested_events(self) -> list[FileIngested]:
        async with self.pool.acquire() as conn:
            payloads = await conn.fetch("SELECT payload FROM outbox WHERE topic = $1 ORDER BY created_at, id",
                                        FileIngested.TOPIC)
        events = [decode(bytes(row["payload"])).event for row in payloads]
        return [event for event in events if isinstance(event, FileIngested)]

    async def errors(self, dataset_id: uuid.UUID) -> list[tuple[Any, ...]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT line_no, column_name, code FROM dataset_errors WHERE dataset_id = $1 "
                                    "ORDER BY seq", dataset_id)
        return [tuple(row) for row in rows]


def build_ingestor(pool: asyncpg.Pool, parsers: ParserPool, root: Path, *,
                   extra_roots: tuple[Path, ...] = ()) -> Ingestor:
    store = FilesystemObjectStore(root)
    locator = ObjectLocator(roots=[root, *extra_roots], buckets=[], s3=None, scratch_dir=root)
    deps = IngestionDeps(pool=pool, parsers=parsers, locator=locator, copy_timeout_s=120)
    return Ingestor(pool=pool, store=store, deps=deps, project_id=uuid.uuid4(), directory=InMemoryDirectory())


def money(text: str) -> Decimal:
    return Decimal(text)
