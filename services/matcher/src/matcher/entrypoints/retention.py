"""The bookkeeping retention task: runs for the app's lifetime (cleanup context), stopped on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from aiohttp import web

from matcher.adapters.bookkeeping import PgBookkeeping
from matcher.config import SERVICE, MatcherSettings
from matcher.service_layer.retention import purge_expired_jobs
from platform_common.keys import PG_POOL

log = logging.getLogger(__name__)

# Jobs deleted per round: a few statements per round, then the next round looks again.
JOBS_PER_BATCH = 100
# Rows per DELETE statement: bounds each statement's locks and WAL however big a job's shards are.
ROWS_PER_STATEMENT = 10_000


def retention_ctx(settings: MatcherSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup context: purge expired bookkeeping now and every `retention.interval_s`; register it after the
    Postgres pool, so it is cancelled before the pool closes."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        bookkeeping = PgBookkeeping(app[PG_POOL], service=SERVICE)
        task = asyncio.create_task(_purge_periodically(bookkeeping, settings), name="bookkeeping-retention")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return context


async def _purge_periodically(bookkeeping: PgBookkeeping, settings: MatcherSettings) -> None:
    retention = settings.retention
    while True:
        try:
            await purge_expired_jobs(
                bookkeeping, retention=retention.period, now=datetime.now(UTC), jobs_per_batch=JOBS_PER_BATCH,
                rows_per_statement=ROWS_PER_STATEMENT,
            )  # fmt: skip
        except Exception:
            # The database may be away for a while; the rows wait for the next run.
            log.warning("bookkeeping retention failed; retried in %s s", retention.interval_s, exc_info=True)
        await asyncio.sleep(retention.interval_s)
