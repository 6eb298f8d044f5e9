"""Fixtures for the files service's integration tests: its schema on the real Postgres, and an S3 emulator."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from files.testing import moto_server_command, start_moto_server
from platform_common.migrations import COMMON_MIGRATIONS, apply_migrations, load_migrations

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto_server process. Missing is a failure, not a skip: the S3 backend is tested against a real S3 API."""
    command = moto_server_command()
    if command is None:
        pytest.fail("moto_server is not installed: `pip install 'moto[server]'` (the S3 emulator these tests need)")
    process, endpoint = start_moto_server(command, tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def files_schema(pg_dsn: str, unique: str) -> AsyncIterator[str]:
    """A fresh schema with every files migration applied, dropped afterwards."""
    schema = f"fi_{unique}"
    conn = await asyncpg.connect(pg_dsn)
    try:
        await apply_migrations(conn, schema, load_migrations(COMMON_MIGRATIONS, "files.migrations"))
        yield schema
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


@pytest.fixture
async def pool(pg_dsn: str, files_schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(pg_dsn, server_settings={"search_path": f"{files_schema},public"},
                                     min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
