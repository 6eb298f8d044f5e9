"""SQL for datasets, the canonical records (written with COPY) and the row-level error reports."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterable, Sequence
from typing import Any

import asyncpg

# The order of the columns in the rows the parser workers produce (see adapters/records_text.py); dataset_id
# is not sent: it is the partition's column default.
RECORD_COPY_COLUMNS: tuple[str, ...] = (
    "record_id", "line_no", "external_id", "amount", "currency", "value_date", "booking_date",
    "reference", "counterparty", "description", "extras", "fingerprint", "occurrence",
)


def copy_columns(*, with_extras: bool) -> tuple[str, ...]:
    return RECORD_COPY_COLUMNS if with_extras else tuple(c for c in RECORD_COPY_COLUMNS if c != "extras")


ERROR_COPY_COLUMNS = ("dataset_id", "seq", "line_no", "column_name", "code", "message", "raw_value")

_DATASET_COLUMNS = (
    "id, project_id, data_source_id, file_id, status, row_count, error_count, skipped_duplicates, errors, "
    "on_error, detected, duration_ms, timings, created_at, committed_at"
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def dataset_view(row: asyncpg.Record) -> dict[str, Any]:
    view = dict(row)
    view["problems"] = _json(view.pop("errors"))
    view["detected"] = _json(view["detected"])
    view["timings"] = _json(view["timings"])
    return view


INDEX_SORT_MEMORY = "256MB"


def partition_name(dataset_id: uuid.UUID) -> str:
    return f"records_{dataset_id.hex}"


def _lock_key(data_source_id: uuid.UUID) -> int:
    return int.from_bytes(hashlib.sha256(b"ingest:" + data_source_id.bytes).digest()[:8], "big", signed=True)


class PgDatasetsRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_data_source(self, data_source_id: uuid.UUID) -> None:
        """Serialise ingestions of one data source until the transaction ends, so overlap de-duplication
        always sees every earlier committed dataset."""
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(data_source_id))

    async def committed_for_file(self, file_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._conn.fetchval(
            "SELECT id FROM datasets WHERE file_id = $1 AND status = 'committed'", file_id)
        return found

    async def committed_ids(self, data_source_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self._conn.fetch(
            "SELECT id FROM datasets WHERE data_source_id = $1 AND status = 'committed'", data_source_id)
        return [row["id"] for row in rows]

    async def fingerprint_scheme(self, data_source_id: uuid.UUID) -> int | None:
        """The scheme of the data source's committed datasets (None before its first one)."""
        schemes = await self._conn.fetch(
            "SELECT DISTINCT fingerprint_scheme FROM datasets WHERE data_source_id = $1 AND status = 'committed'",
            data_source_id)
        if len(schemes) > 1:  # never written so: de-duplication across them would be impossible
            raise RuntimeError(f"data source {data_source_id} mixes fingerprint schemes {sorted(schemes)}")
        return int(schemes[0]["fingerprint_scheme"]) if schemes else None

    async def start(self, *, dataset_id: uuid.UUID, project_id: uuid.UUID, data_source_id: uuid.UUID,
                    file_id: uuid.UUID, on_error: str, fingerprint_scheme: int) -> None:
        await self._conn.execute(
            "INSERT INTO datasets (id, project_id, data_source_id, file_id, status, on_error, fingerprint_scheme) "
            "VALUES ($1, $2, $3, $4, 'loading', $5, $6)",
            dataset_id, project_id, data_source_id, file_id, on_error, fingerprint_scheme,
        )

    async def create_partition(self, dataset_id: uuid.UUID) -> str:
        """A new, empty table shaped like records, for this dataset only; returns its name."""
        table = partition_name(dataset_id)
        await self._conn.execute(
            f"CREATE TABLE {table} (LIKE records INCLUDING DEFAULTS INCLUDING CONSTRAINTS, "
            f"CONSTRAINT {table}_dataset CHECK (dataset_id = '{dataset_id}'))")
        # The dataset id is the column default, so the COPY stream does not repeat it on every row.
        await self._conn.execute(f"ALTER TABLE {table} ALTER COLUMN dataset_id SET DEFAULT '{dataset_id}'")
        return table

    async def copy_records(self, table: str, source: AsyncIterable[bytes], *, with_extras: bool,
                           timeout_s: float) -> int:
        """COPY the workers' text-format stream into the dataset's table; returns the number of rows copied."""
        status = await self._conn.copy_to_table(
            table, source=source, columns=list(copy_columns(with_extras=with_extras)), format="text",
            timeout=timeout_s)
        return int(status.split()[-1])

    async def drop_overlap(self, table: str, *, earlier: Sequence[uuid.UUID], timeout_s: float) -> int:
        """Delete the new rows already present, as (fingerprint, occurrence), in an earlier committed dataset of
        the same data source; returns how many were dropped."""
        status = await self._conn.execute(
            f"DELETE FROM {table} n USING records o "
            "WHERE o.dataset_id = ANY($1::uuid[]) AND o.fingerprint = n.fingerprint "
            "AND o.occurrence = n.occurrence", list(earlier), timeout=timeout_s)
        return int(status.split()[-1])

    async def build_indexes(self, table: str, *, timeout_s: float) -> None:
        """Index the loaded table in one sorted pass per index, matching the parent's indexes so that ATTACH
        adopts them rather than building its own."""
        # Enough sort memory to build each index in one in-memory pass (the server default spills to disk).
        await self._conn.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_SORT_MEMORY}'")
        # A PRIMARY KEY constraint, not just a unique index: ATTACH only adopts a constraint index for the
        # parent's primary key (a plain unique index would be ignored and a second one built).
        await self._conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (dataset_id, record_id)", timeout=timeout_s)
        await self._conn.execute(f"CREATE INDEX ON {table} (fingerprint, occurrence)", timeout=timeout_s)

    async def attach_partition(self, table: str, dataset_id: uuid.UUID, *, timeout_s: float) -> None:
        """Make the loaded, indexed table the dataset's partition of records. The CHECK on dataset_id lets
        ATTACH skip its validation scan."""
        await self._conn.execute(f"ALTER TABLE records ATTACH PARTITION {table} FOR VALUES IN ('{dataset_id}')",
                                 timeout=timeout_s)

    async def finish(self, dataset_id: uuid.UUID, *, status: str, row_count: int, error_count: int,
                     skipped_duplicates: int, problems: Sequence[dict[str, Any]], detected: dict[str, Any],
                     duration_ms: int, timings: dict[str, Any]) -> None:
        await self._conn.execute(
            "UPDATE datasets SET status = $2, row_count = $3, error_count = $4, skipped_duplicates = $5, "
            "errors = $6, detected = $7, duration_ms = $8, timings = $9, "
            "committed_at = CASE WHEN $2 = 'committed' THEN now() END WHERE id = $1",
            dataset_id, status, row_count, error_count, skipped_duplicates, json.dumps(list(problems)),
            json.dumps(detected, default=str), duration_ms, json.dumps(timings),
        )

    async def add_errors(self, dataset_id: uuid.UUID, errors: Sequence[dict[str, Any]]) -> None:
        if not errors:
            return
        rows = [(dataset_id, seq, e.get("line"), e.get("column"), e["code"], e["message"], e.get("raw_value"))
                for seq, e in enumerate(errors, start=1)]
        await self._conn.copy_records_to_table("dataset_errors", records=rows, columns=list(ERROR_COPY_COLUMNS))

    async def get(self, dataset_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE id = $1", dataset_id)
        return dataset_view(row) if row else None

    async def list_for_source(self, project_id: uuid.UUID, data_source_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE data_source_id = $1 AND project_id = $2 "
            "ORDER BY created_at DESC", data_source_id, project_id)
        return [dataset_view(row) for row in rows]

    async def errors_page(self, dataset_id: uuid.UUID, *, after_seq: int, limit: int) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            "SELECT seq, line_no AS line, column_name AS column, code, message, raw_value FROM dataset_errors "
            "WHERE dataset_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", dataset_id, after_seq, limit)
        return [dict(row) for row in rows]

    async def reported_errors(self, dataset_id: uuid.UUID) -> int:
        return int(await self._conn.fetchval("SELECT count(*) FROM dataset_errors WHERE dataset_id = $1",
                                             dataset_id))

    async def record_count(self, dataset_id: uuid.UUID) -> int:
        return int(await self._conn.fetchval("SELECT count(*) FROM records WHERE dataset_id = $1", dataset_id))
