"""The bookkeeping retention task: runs for the app's lifetime (cleanup context), stopped on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web

from matcher.adapters.bookkeeping import PgBookkeeping
from matcher.adapters.topic_retention import topic_retention
from matcher.config import SERVICE, MatcherSettings
from matcher.service_layer.retention import REDELIVERY_MARGIN, effective_retention, purge_expired_jobs
from platform_common.events import JobStarted, ShardRequested
from platform_common.keys import PG_POOL

log = logging.getLogger(__name__)

# Jobs deleted per round: a few statements per round, then the next round looks again.
JOBS_PER_BATCH = 100
# Rows per DELETE statement: bounds each statement's locks and WAL however big a job's shards are.
ROWS_PER_STATEMENT = 10_000
_DAY = timedelta(days=1)


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
            # Asked every round: a topic's retention can be changed on the broker at any time.
            kept = await topic_retention(settings.kafka, [JobStarted.TOPIC, ShardRequested.TOPIC])
            period = effective_retention(retention.period, kept)
            if period is None:
                log.warning("a topic keeps its events forever (%s); no bookkeeping is deleted", kept)
            else:
                if period > retention.period:
                    log.info("bookkeeping kept %g days, not the configured %g: the topics keep events %g days",
                             period / _DAY, retention.period / _DAY, (period - REDELIVERY_MARGIN) / _DAY)
                await purge_expired_jobs(
                    bookkeeping, retention=period, now=datetime.now(UTC), jobs_per_batch=JOBS_PER_BATCH,
                    rows_per_statement=ROWS_PER_STATEMENT,
                )  # fmt: skip
        except Exception:
            # Kafka or the database may be away for a while: nothing is deleted until both answer.
            log.warning("bookkeeping retention failed; retried in %s s", retention.interval_s, exc_info=True)
        await asyncio.sleep(retention.interval_s)
