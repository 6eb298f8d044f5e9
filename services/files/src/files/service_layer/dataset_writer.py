"""Writing one ingestion: a dataset committed whole, a rejection with its error report, or a duplicate.

One transaction holds the inbox claim, the dataset row, the dataset's own records table (COPY, overlap
de-duplication, index build, ATTACH as a partition of records), the file's new status and the file.ingested
event (outbox). A crash anywhere before COMMIT leaves nothing behind, the offset stays uncommitted, and the
redelivered event starts again from scratch: complete or absent, never partial.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

from files.adapters.datasets import PgDatasetsRepository
from files.adapters.parser_pool import ParserPool
from files.adapters.repository import PgFilesRepository
from files.adapters.storage.locator import LocalObject
from files.config import SERVICE
from files.domain.canonical import CURRENT_FINGERPRINT_SCHEME
from files.metrics import INGEST_STAGE_DURATION, INGESTED_FILES, INGESTED_ROWS
from files.service_layer.parse_worker import IngestJob, IngestOutcome, ingest_to_socket
from platform_common.events import FileIngested
from platform_common.idempotency import claim
from platform_common.outbox import enqueue

log = logging.getLogger(__name__)

CONSUMER_GROUP = "files"  # the inbox name; the Kafka group is settings.topics.consumer_group
IngestedStatus = Literal["committed", "rejected", "duplicate", "failed"]


@dataclass(frozen=True)
class IngestTarget:
    """Everything one ingestion needs to know, resolved before the transaction starts."""

    event_id: uuid.UUID
    correlation_id: str
    file_id: uuid.UUID
    project_id: uuid.UUID
    data_source_id: uuid.UUID
    filename: str
    sha256: str
    size_bytes: int
    on_error: str
    mapping: dict[str, Any] | None
    options: dict[str, Any]
    ingested_topic: str


@dataclass
class _Clock:
    started: float = field(default_factory=time.monotonic)
    stages: dict[str, float] = field(default_factory=dict)
    _mark: float = field(default_factory=time.monotonic)

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.stages[stage] = round(now - self._mark, 3)
        INGEST_STAGE_DURATION.labels(SERVICE, stage).observe(now - self._mark)
        self._mark = now

    @property
    def total_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


class _NotCommitted(Exception):
    def __init__(self, outcome: IngestOutcome) -> None:
        super().__init__(outcome.status)
        self.outcome = outcome


async def write_dataset(pool: asyncpg.Pool, parsers: ParserPool, target: IngestTarget, local: LocalObject, *,
                        timeout_s: float) -> bool:
    """Ingest `local` for `target`; False when the event turned out to be handled already."""
    clock = _Clock()
    dataset_id = uuid.uuid4()
    try:
        async with pool.acquire() as conn, conn.transaction():
            datasets, files = PgDatasetsRepository(conn), PgFilesRepository(conn)
            # One ingestion per data source at a time, so de-duplication sees every earlier dataset.
            await datasets.lock_data_source(target.data_source_id)
            if not await claim(conn, consumer=CONSUMER_GROUP, event_id=target.event_id):
                return False
            if await datasets.committed_for_file(target.file_id) is not None:
                return False
            original = await files.find_live_copy(target.data_source_id, target.sha256, excluding=target.file_id)
            if original is not None and original["status"] == "committed":
                await _record_duplicate(conn, target, original)
                return True
            # A data source keeps the scheme of its stored datasets, so de-duplication compares like with like.
            scheme = await datasets.fingerprint_scheme(target.data_source_id) or CURRENT_FINGERPRINT_SCHEME
            await datasets.start(dataset_id=dataset_id, project_id=target.project_id,
                                 data_source_id=target.data_source_id, file_id=target.file_id,
                                 on_error=target.on_error, fingerprint_scheme=scheme)
            table = await datasets.create_partition(dataset_id)
            outcome, copied = await _copy(parsers, datasets, table, target, local, fingerprint_scheme=scheme,
                                          timeout_s=timeout_s)
            clock.lap("copy")
            if outcome.status != "accepted":
                raise _NotCommitted(outcome)
            if copied != outcome.rows_sent:
                raise RuntimeError(f"COPY stored {copied} rows but the parser sent {outcome.rows_sent}")
            skipped = 0
            earlier = await datasets.committed_ids(target.data_source_id)
            if earlier:
                skipped = await datasets.drop_overlap(table, earlier=earlier, timeout_s=timeout_s)
            clock.lap("dedupe")
            await datasets.build_indexes(table, timeout_s=timeout_s)
            clock.lap("index")
            await datasets.attach_partition(table, dataset_id, timeout_s=timeout_s)
            clock.lap("attach")
            row_count = copied - skipped
            await datasets.finish(dataset_id, status="committed", row_count=row_count,
                                  error_count=outcome.error_count, skipped_duplicates=skipped,
                                  problems=outcome.problems, detected=outcome.detected, duration_ms=clock.total_ms,
                                  timings={**clock.stages, "parser": outcome.timings})
            await datasets.add_errors(dataset_id, outcome.errors)
            await files.set_status(target.file_id, "committed", sha256=target.sha256, size_bytes=target.size_bytes)
            await announce(conn, target, status="committed", dataset_id=dataset_id, row_count=row_count,
                            error_count=outcome.error_count)
        clock.lap("commit")
    except _NotCommitted as rejected:
        return await _record_rejection(pool, target, dataset_id, rejected.outcome, clock)
    INGEST_STAGE_DURATION.labels(SERVICE, "total").observe(clock.total_ms / 1000)
    INGESTED_FILES.labels(SERVICE, "committed").inc()
    INGESTED_ROWS.labels(SERVICE, "stored").inc(row_count)
    INGESTED_ROWS.labels(SERVICE, "skipped_overlap").inc(skipped)
    INGESTED_ROWS.labels(SERVICE, "skipped_error").inc(outcome.rows_with_errors)
    log.info("file %s committed as dataset %s: %d rows (%d already stored, %d bad rows skipped) in %.1f s %s",
             target.file_id, dataset_id, row_count, skipped, outcome.rows_with_errors, clock.total_ms / 1000,
             {**clock.stages, "parser": outcome.timings})
    return True


async def _copy(parsers: ParserPool, datasets: PgDatasetsRepository, table: str, target: IngestTarget,
                local: LocalObject, *, fingerprint_scheme: int, timeout_s: float) -> tuple[IngestOutcome, int]:
    """Parse in a worker process and COPY what it streams, concurrently; then the worker's verdict."""
    # Extras only come from a mapping that names them (or from a bank format's own mapping).
    with_extras = target.mapping is None or bool(target.mapping.get("extras"))
    job = IngestJob(path=str(local.path), filename=target.filename, mapping=target.mapping,
                    options={**target.options, "on_error": target.on_error}, with_extras=with_extras,
                    fingerprint_scheme=fingerprint_scheme)
    async with parsers.stream(ingest_to_socket, job) as stream:
        try:
            copied = await datasets.copy_records(table, stream.chunks(), with_extras=with_extras, timeout_s=timeout_s)
        except asyncpg.DataError as error:
            # A worker that died mid-line also ends the COPY with a format error: that is a crash (retried),
            # so ask the worker first. Only a live worker's stream makes this a value Postgres cannot store
            # (e.g. a NUL character in text).
            stream.close()
            await stream.result()
            problem: dict[str, Any] = {"code": "records_not_storable", "column": None, "examples": [],
                                       "message": f"a value cannot be stored: {error}", "params": {}}
            raise _NotCommitted(IngestOutcome(status="failed", problems=[problem])) from error
        outcome = await stream.result()
    return outcome, copied


def rejection_problem(outcome: IngestOutcome, on_error: str) -> dict[str, Any]:
    """The one problem the file's status shows: the first file-level problem, or a summary of bad rows."""
    # params let the message be rendered in the caller's language (platform_common/locales): a translation
    # naming a column or a count needs it here, since only the code and the English text are stored besides.
    if outcome.problems:
        first = outcome.problems[0]
        column = first.get("column")
        return {"code": first["code"], "message": first["message"], "column": column,
                "params": {**first.get("params", {}), **({"column": column} if column else {})}}
    return {"code": "rows_invalid", "column": None,
            "message": f"{outcome.rows_with_errors} row(s) have errors ({outcome.error_count} in all); "
                       f"nothing was stored because bad rows reject the file (on_error={on_error})",
            "params": {"rows": outcome.rows_with_errors, "errors": outcome.error_count, "on_error": on_error}}


async def _record_rejection(pool: asyncpg.Pool, target: IngestTarget, dataset_id: uuid.UUID, outcome: IngestOutcome,
                            clock: _Clock) -> bool:
    """The rolled-back attempt left no rows; what remains is the rejected dataset with its error report."""
    problem = rejection_problem(outcome, target.on_error)
    async with pool.acquire() as conn, conn.transaction():
        datasets, files = PgDatasetsRepository(conn), PgFilesRepository(conn)
        if not await claim(conn, consumer=CONSUMER_GROUP, event_id=target.event_id):
            return False
        # A rejected dataset keeps no records, so no fingerprints: its scheme is never read.
        await datasets.start(dataset_id=dataset_id, project_id=target.project_id,
                             data_source_id=target.data_source_id, file_id=target.file_id, on_error=target.on_error,
                             fingerprint_scheme=CURRENT_FINGERPRINT_SCHEME)
        await datasets.finish(dataset_id, status="rejected", row_count=0, error_count=outcome.error_count,
                              skipped_duplicates=0, problems=outcome.problems, detected=outcome.detected,
                              duration_ms=clock.total_ms, timings={**clock.stages, "parser": outcome.timings})
        await datasets.add_errors(dataset_id, outcome.errors)
        await files.set_status(target.file_id, "rejected", problem=problem, sha256=target.sha256,
                               size_bytes=target.size_bytes)
        await announce(conn, target, status="rejected", dataset_id=dataset_id, row_count=0,
                       error_count=outcome.error_count)
    INGESTED_FILES.labels(SERVICE, "rejected").inc()
    log.info("file %s rejected: %s (%d row errors)", target.file_id, problem["code"], outcome.error_count)
    return True


async def record_duplicate(pool: asyncpg.Pool, target: IngestTarget, original: dict[str, Any]) -> bool:
    """The file's bytes are live in the data source already (committed, or still queued or ingesting): it becomes
    a duplicate of that file, like a re-upload of the same bytes. False when the event was handled already."""
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=CONSUMER_GROUP, event_id=target.event_id):
            return False
        await _record_duplicate(conn, target, original)
    log.info("file %s is a duplicate of file %s (%s)", target.file_id, original["id"], original["status"])
    return True


async def _record_duplicate(conn: asyncpg.Connection, target: IngestTarget, original: dict[str, Any]) -> None:
    await PgFilesRepository(conn).set_status(target.file_id, "duplicate", sha256=target.sha256,
                                             size_bytes=target.size_bytes, duplicate_of=original["id"])
    # The original's dataset once it is committed; a copy still queued has none yet.
    dataset_id = original["dataset_id"] if original["status"] == "committed" else None
    await announce(conn, target, status="duplicate", dataset_id=dataset_id, row_count=0, error_count=0)
    INGESTED_FILES.labels(SERVICE, "duplicate").inc()


async def announce(conn: asyncpg.Connection, target: IngestTarget, *, status: IngestedStatus,
                   dataset_id: uuid.UUID | None, row_count: int, error_count: int) -> None:
    """Enqueue file.ingested in the caller's transaction."""
    event = FileIngested(file_id=target.file_id, project_id=target.project_id, data_source_id=target.data_source_id,
                         status=status, dataset_id=dataset_id, row_count=row_count, error_count=error_count)
    await enqueue(conn, event, topic=target.ingested_topic, producer=SERVICE, correlation_id=target.correlation_id)
