"""Forward-only SQL migrations per service schema, applied at start and by `python -m <service> migrate`.

Files are `NNNN_name.sql`, applied in order inside one transaction each, under an advisory lock so
replicas starting together apply them once. An applied file that changed afterwards is an error.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import asyncpg

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")  # 0001_create_jobs.sql
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(Exception):
    pass


def load_migrations(*packages: str) -> list[Migration]:
    """Collect `.sql` files from the given packages (the shared ones first), ordered by package then name."""
    found: list[Migration] = []
    for index, package in enumerate(packages):
        root: Traversable = files(package)
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            match = _NAME.match(entry.name)
            if match:
                found.append(Migration(version=f"{index}:{entry.name}", name=entry.name, sql=entry.read_text()))
    return found


COMMON_MIGRATIONS = "platform_common.migrations_sql"


async def apply_migrations(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply pending migrations to `schema`; return the versions applied now."""
    if not _SCHEMA.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    lock_key = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {r["version"]: r["checksum"] for r in
                   await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")}
        done: list[str] = []
        for migration in migrations:
            previous = applied.get(migration.version)
            if previous is not None:
                if previous != migration.checksum:
                    raise MigrationError(f"migration {migration.name} changed after it was applied to {schema}")
                continue
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {schema}, public")
                await conn.execute(migration.sql)
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations(version, checksum) VALUES ($1, $2)",
                    migration.version, migration.checksum,
                )
            log.info("applied migration %s to %s", migration.name, schema)
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)


async def migrate(dsn: str, schema: str, *packages: str) -> list[str]:
    """Connect, apply the shared then the service migrations, disconnect."""
    conn = await asyncpg.connect(dsn)
    try:
        return await apply_migrations(conn, schema, load_migrations(COMMON_MIGRATIONS, *packages))
    finally:
        await conn.close()
