"""asyncpg pool with retry on start, per-service schema search path, pool metrics and a health check."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
from aiohttp import web

from platform_common.health import health_of
from platform_common.metrics import DB_POOL_CONNECTIONS, DB_QUERY_DURATION
from platform_common.migrations import COMMON_MIGRATIONS, apply_migrations, load_migrations
from platform_common.settings import ConfigurationError, PostgresSettings

log = logging.getLogger(__name__)

Pool = asyncpg.Pool


async def create_pool(pg: PostgresSettings, *, setting_name: str = "POSTGRES__DSN") -> asyncpg.Pool:
    """Connect with bounded retries; fail with one line naming the setting when Postgres never answers."""
    server_settings = {"application_name": "recon"}
    if pg.schema_name:
        server_settings["search_path"] = f"{pg.schema_name},public"
    last_error: BaseException | None = None
    for attempt in range(1, pg.connect_attempts + 1):
        try:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                dsn=pg.dsn.get_secret_value(),
                min_size=pg.min_pool_size,
                max_size=pg.max_pool_size,
                command_timeout=pg.command_timeout_s,
                server_settings=server_settings,
                timeout=10,
            )
            return pool
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            last_error = error
            log.warning("postgres connect attempt %d/%d failed: %r", attempt, pg.connect_attempts, error)
            if attempt < pg.connect_attempts:
                await asyncio.sleep(pg.connect_backoff_s * attempt)
    raise ConfigurationError(
        f"startup error: Postgres unreachable via {setting_name} ({type(last_error).__name__}: {last_error})"
    )


def observe_pool(pool: asyncpg.Pool, service: str) -> None:
    """Publish pool utilisation (active, idle, max) for the pool-exhaustion alert."""
    size, idle = pool.get_size(), pool.get_idle_size()
    DB_POOL_CONNECTIONS.labels(service, "active").set(size - idle)
    DB_POOL_CONNECTIONS.labels(service, "idle").set(idle)
    DB_POOL_CONNECTIONS.labels(service, "max").set(pool.get_max_size())


@asynccontextmanager
async def timed(service: str, operation: str) -> AsyncIterator[None]:
    """Time a logical database operation into recon_db_query_duration_seconds."""
    started = time.perf_counter()
    try:
        yield
    finally:
        DB_QUERY_DURATION.labels(service, operation).observe(time.perf_counter() - started)


def pg_pool_ctx(pg: PostgresSettings, *, service: str, key: web.AppKey[asyncpg.Pool], setting_name: str,
                migrations: tuple[str, ...] = ()) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup context owning the pool; applies migrations, registers readiness and pool metrics."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(pg, setting_name=setting_name)
        if migrations and pg.schema_name:
            async with pool.acquire() as conn:
                await apply_migrations(conn, pg.schema_name, load_migrations(COMMON_MIGRATIONS, *migrations))
        app[key] = pool

        async def ready() -> None:
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
            observe_pool(pool, service)

        health_of(app).add_readiness("postgres", ready)
        try:
            yield
        finally:
            health_of(app).remove("postgres")
            await pool.close()

    return context
