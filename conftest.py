"""Fixtures shared by every test tier. Integration fixtures need the native stack (scripts/dev test starts it);
they fail loudly rather than skip when it is missing."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from platform_common.telemetry import setup_tracing

REPO = Path(__file__).resolve().parent
_SPANS = InMemorySpanExporter()
setup_tracing("tests", extra_processors=[SimpleSpanProcessor(_SPANS)])


def _stack_env() -> dict[str, str]:
    env_file = REPO / ".local" / "stack.env"
    if not env_file.exists():
        pytest.fail("the local stack is not running: start it with `scripts/dev test` or scripts/infra/start.sh")
    values: dict[str, str] = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value
    return values


@pytest.fixture(scope="session")
def stack() -> dict[str, str]:
    """Connection settings of the running local stack (Kafka, Postgres, Redis)."""
    return _stack_env()


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: dict[str, str]) -> str:
    return stack["RECON_KAFKA_BOOTSTRAP"]


@pytest.fixture(scope="session")
def pg_dsn(stack: dict[str, str]) -> str:
    return stack["RECON_PG_DSN"]


@pytest.fixture(scope="session")
def redis_url(stack: dict[str, str]) -> str:
    return stack["RECON_REDIS_URL"]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test (the exporter is process-wide; cleared around each test)."""
    _SPANS.clear()
    yield _SPANS
    _SPANS.clear()


@pytest.fixture
def unique() -> str:
    """A short unique suffix so tests can share one Kafka and one database."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def test_schema(pg_dsn: str, unique: str) -> AsyncIterator[str]:
    """A fresh schema with the shared inbox/outbox tables, dropped afterwards."""
    import asyncpg

    from platform_common.migrations import COMMON_MIGRATIONS, apply_migrations, load_migrations

    schema = f"t_{unique}"
    conn = await asyncpg.connect(pg_dsn)
    try:
        await apply_migrations(conn, schema, load_migrations(COMMON_MIGRATIONS))
        yield schema
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PYTHONHASHSEED", "0")
