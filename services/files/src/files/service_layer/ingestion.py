"""The consumer side of file.uploaded, from our own uploads and from external drop-offs.

Before anything is written the event is checked: the object URI must be inside an allowed root or bucket,
the data source must exist, the object must exist (and match the event's sha256 when one is given), and a
known file id must not be reused for another object. Any of these failing is a PermanentError with a stable
code, which the consumer runner dead-letters. The writing itself is service_layer.dataset_writer.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from files.adapters.parser_pool import ParserCrashed, ParserPool
from files.adapters.repository import PgDataSourcesRepository, PgFilesRepository
from files.adapters.storage import ObjectLocator, ObjectRejected
from files.adapters.storage.locator import LocalObject
from files.service_layer.dataset_writer import (
    CONSUMER_GROUP,
    IngestTarget,
    announce,
    record_duplicate,
    write_dataset,
)
from platform_common.errors import DomainError, PermanentError, TransientError
from platform_common.events import DecodedMessage, FileIngested, FileUploaded
from platform_common.idempotency import claim
from platform_common.kafka.consumer import is_transient

log = logging.getLogger(__name__)

FINISHED = ("committed", "rejected", "duplicate")
_HOLD_ATTEMPTS = 5


@dataclass(frozen=True)
class IngestionDeps:
    pool: asyncpg.Pool
    parsers: ParserPool
    locator: ObjectLocator
    copy_timeout_s: float
    ingested_topic: str = FileIngested.TOPIC
    block_bytes: int = 2 * 1024 * 1024
    max_parser_crashes: int = 3  # a file that keeps killing its parser is failed, not retried for ever
    parser_crashes: dict[uuid.UUID, int] = field(default_factory=dict)


async def receive_file(deps: IngestionDeps, message: DecodedMessage) -> bool:
    """Handle file.uploaded; False when the event was already handled (a redelivery)."""
    event = message.event
    assert isinstance(event, FileUploaded)
    deps.locator.check_allowed(event.object_uri)
    async with deps.pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2",
                               CONSUMER_GROUP, message.envelope.id):
            return False
        if await PgDataSourcesRepository(conn).get(event.project_id, event.data_source_id) is None:
            raise PermanentError(f"data source {event.data_source_id} does not exist in project {event.project_id}",
                                 code="data_source_unknown")
        known = await PgFilesRepository(conn).get(event.file_id)
    if known is not None:
        _check_same_file(known, event)
        if known["status"] in FINISHED:
            return await _acknowledge_only(deps.pool, message.envelope.id)
    try:
        async with deps.locator.local_copy(event.object_uri, hash_it=known is None or not known["sha256"]) as local:
            sha256 = _verified_sha(event, known, local)
            async with deps.pool.acquire() as conn:
                files = PgFilesRepository(conn)
                if known is None:
                    await files.add_external(event)
                inputs = await files.ingestion_inputs(event.file_id)
                original = await _hold_content(files, event, sha256, local.size_bytes)
            assert inputs is not None
            target = IngestTarget(
                event_id=message.envelope.id, correlation_id=message.envelope.correlation_id or str(event.file_id),
                file_id=event.file_id, project_id=event.project_id, data_source_id=event.data_source_id,
                filename=event.filename, sha256=sha256, size_bytes=local.size_bytes, on_error=inputs["on_error"],
                mapping=_json(inputs["mapping"]),
                options={"block_bytes": deps.block_bytes, **(_json(inputs["parse_options"]) or {})},
                ingested_topic=deps.ingested_topic,
            )
            if original is not None:
                return await record_duplicate(deps.pool, target, original)
            return await _ingest_or_fail(deps, target, local)
    except ObjectRejected as rejected:
        if known is not None:  # our own upload whose object vanished: say so on the file, then dead-letter
            async with deps.pool.acquire() as conn:
                await PgFilesRepository(conn).set_status(
                    event.file_id, "rejected", problem={"code": rejected.code, "message": rejected.detail})
        raise


async def _hold_content(files: PgFilesRepository, event: FileUploaded, sha256: str,
                        size_bytes: int) -> dict[str, Any] | None:
    """Mark the file ingesting, holding its bytes' slot in the data source; or, when another live file holds it
    (an upload still queued, a drop-off of the same bytes arriving at the same time), that file."""
    for _ in range(_HOLD_ATTEMPTS):
        if await files.start_ingesting(event.file_id, sha256=sha256, size_bytes=size_bytes):
            return None
        original = await files.find_live_copy(event.data_source_id, sha256, excluding=event.file_id)
        if original is not None:
            return original
        # The holder stopped being live (rejected, failed) between the two statements: the slot is free again.
    raise TransientError(f"file {event.file_id}: the live copy of its bytes kept changing", code="content_contended")


def _check_same_file(known: dict[str, Any], event: FileUploaded) -> None:
    if (known["project_id"], known["data_source_id"], known["object_uri"]) != (
            event.project_id, event.data_source_id, event.object_uri):
        raise PermanentError(f"file {event.file_id} already exists with a different project, data source or object",
                             code="file_id_conflict")


def _verified_sha(event: FileUploaded, known: dict[str, Any] | None, local: LocalObject) -> str:
    recorded = known["sha256"] if known is not None else None
    computed = local.sha256
    claimed = event.sha256
    if computed is not None and claimed is not None and computed != claimed:
        raise ObjectRejected(f"object {event.object_uri} has sha256 {computed}, the event says {claimed}",
                             code="object_checksum_mismatch")
    sha = recorded or computed or claimed
    assert sha is not None
    return str(sha)


async def _acknowledge_only(pool: asyncpg.Pool, event_id: uuid.UUID) -> bool:
    """A new event for a file already finished: record it as handled, change nothing."""
    async with pool.acquire() as conn, conn.transaction():
        await claim(conn, consumer=CONSUMER_GROUP, event_id=event_id)
    return False


async def _ingest_or_fail(deps: IngestionDeps, target: IngestTarget, local: LocalObject) -> bool:
    """Ingest; an unexpected error (a bug, a value Postgres refuses) marks the file failed, so it neither blocks
    a re-upload of the same bytes nor sits "ingesting" for ever, then dead-letters the event with the reason.
    Infrastructure errors and a crashed parser propagate unchanged: the consumer retries those."""
    try:
        written = await write_dataset(deps.pool, deps.parsers, target, local, timeout_s=deps.copy_timeout_s)
    except DomainError:
        raise
    except ParserCrashed as crash:
        crashes = deps.parser_crashes[target.file_id] = deps.parser_crashes.get(target.file_id, 0) + 1
        if crashes < deps.max_parser_crashes:
            raise
        deps.parser_crashes.pop(target.file_id, None)
        await _mark_failed(deps, target, "parser_crashed",
                           f"the parser process died {crashes} times on this file (out of memory?)")
        raise PermanentError(f"file {target.file_id} keeps crashing its parser", code="parser_crashed") from crash
    except Exception as error:
        if is_transient(error):
            raise
        log.exception("ingestion of file %s failed", target.file_id)
        await _mark_failed(deps, target, "ingestion_failed",
                           f"the file could not be ingested because of an internal error ({type(error).__name__})")
        raise PermanentError(f"ingestion of file {target.file_id} failed: {error}", code="ingestion_failed") from error
    deps.parser_crashes.pop(target.file_id, None)
    return written


async def _mark_failed(deps: IngestionDeps, target: IngestTarget, code: str, message: str) -> None:
    async with deps.pool.acquire() as conn, conn.transaction():
        await PgFilesRepository(conn).set_status(target.file_id, "failed",
                                                 problem={"code": code, "column": None, "message": message})
        # Not "rejected": the file may be fine, and whoever shows the data source should say so.
        await announce(conn, target, status="failed", dataset_id=None, row_count=0, error_count=0)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
