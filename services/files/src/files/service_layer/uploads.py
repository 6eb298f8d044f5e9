"""Uploads: a staged (fully received, hashed) object becomes a file of a data source and a file.uploaded event,
in one transaction; the same bytes already live in the data source are reported, not stored twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from files.adapters.repository import PgDataSourcesRepository, PgFilesRepository
from files.adapters.storage import ObjectStore, StagedObject
from files.config import SERVICE
from files.service_layer import data_sources
from files.service_layer.data_sources import DataSourceDirectory
from platform_common.errors import ValidationFailed
from platform_common.events import FileUploaded
from platform_common.outbox import enqueue

TERMINAL = ("committed", "rejected", "duplicate", "failed")


@dataclass(frozen=True)
class UploadForm:
    """What the multipart fields said, already validated."""

    project_id: uuid.UUID
    filename: str
    data_source_id: uuid.UUID | None = None
    data_source_name: str | None = None
    on_error: str | None = None  # None: the data source's default, else reject
    mapping: dict[str, Any] | None = None  # this upload only; None: the data source's template
    parse_options: dict[str, Any] | None = None
    save_as_template: bool = False
    content_type: str | None = None
    uploaded_by: uuid.UUID | None = None


@dataclass(frozen=True)
class UploadResult:
    file: dict[str, Any]
    duplicate: bool


async def resolve_data_source(pool: asyncpg.Pool, directory: DataSourceDirectory, form: UploadForm) -> dict[str, Any]:
    """The data source named by id, or by name (created in projects on its first upload)."""
    if form.data_source_id is not None:
        return await data_sources.by_id(pool, directory, form.project_id, form.data_source_id)
    if form.data_source_name is None:
        raise ValidationFailed("Say which data source the file belongs to (data_source_id or data_source_name).",
                               code="data_source_required",
                               errors=[{"field": "data_source_id", "code": "missing",
                                        "message": "data_source_id or data_source_name is required"}])
    return await data_sources.by_name(pool, directory, form.project_id, form.data_source_name)


async def register_upload(pool: asyncpg.Pool, store: ObjectStore, staged: StagedObject, form: UploadForm, *,
                          directory: DataSourceDirectory, topic: str = FileUploaded.TOPIC) -> UploadResult:
    try:
        source = await resolve_data_source(pool, directory, form)
        async with pool.acquire() as conn:
            existing = await PgFilesRepository(conn).find_live_copy(source["id"], staged.sha256)
    except BaseException:
        await store.discard(staged)
        raise
    if existing is not None:
        await store.discard(staged)
        return UploadResult(file=existing, duplicate=True)
    object_uri = await store.promote(staged)
    on_error = form.on_error or source["parse_options"].get("on_error") or "reject"
    file_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        files = PgFilesRepository(conn)
        if form.save_as_template and (form.mapping is not None or form.parse_options is not None):
            await PgDataSourcesRepository(conn).save_template(
                form.project_id, source["id"], mapping=form.mapping if form.mapping is not None else source["mapping"],
                parse_options=form.parse_options if form.parse_options is not None else source["parse_options"])
        inserted = await files.add_upload(
            file_id=file_id, project_id=form.project_id, data_source_id=source["id"], object_uri=object_uri,
            filename=form.filename, sha256=staged.sha256, size_bytes=staged.size_bytes, on_error=on_error,
            mapping=None if form.save_as_template else form.mapping,
            parse_options=None if form.save_as_template else form.parse_options,
            content_type=form.content_type, uploaded_by=form.uploaded_by)
        if inserted is None:  # a concurrent upload of the same bytes won the race
            raced = await files.find_live_copy(source["id"], staged.sha256)
            assert raced is not None
            return UploadResult(file=raced, duplicate=True)
        event = FileUploaded(file_id=file_id, project_id=form.project_id, data_source_id=source["id"],
                             object_uri=object_uri, filename=form.filename, sha256=staged.sha256,
                             size_bytes=staged.size_bytes, content_type=form.content_type,
                             uploaded_by=form.uploaded_by, origin="upload",
                             on_error=on_error)
        await enqueue(conn, event, topic=topic, producer=SERVICE, correlation_id=str(file_id))
        stored = await files.get(file_id)
    assert stored is not None
    return UploadResult(file=stored, duplicate=False)


async def wait_for_outcome(pool: asyncpg.Pool, file_id: uuid.UUID, *, timeout_s: float) -> dict[str, Any]:
    """Poll the file until ingestion finished or the time is up; the file as it is then."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        async with pool.acquire() as conn:
            found = await PgFilesRepository(conn).get(file_id)
        assert found is not None
        if found["status"] in TERMINAL or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)
