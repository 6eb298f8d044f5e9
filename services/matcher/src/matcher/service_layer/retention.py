"""Retention of the matcher's bookkeeping: delete the rows of jobs done for longer than the retention period."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from matcher.config import SERVICE
from platform_common.metrics import MATCHER_BOOKKEEPING_ROWS_DELETED

log = logging.getLogger(__name__)

# A redelivered job.started or shard.requested must still find its job's plan: rows outlive the longest
# retention of those topics by this much, whatever the configured period says.
REDELIVERY_MARGIN = timedelta(days=1)


def effective_retention(configured: timedelta, topic_retention: Mapping[str, timedelta | None]) -> timedelta | None:
    """The retention period to apply: the configured one, raised past the topics' retention plus the margin;
    None (never delete) when a topic keeps its events forever."""
    if any(kept is None for kept in topic_retention.values()):
        return None
    longest = max((kept for kept in topic_retention.values() if kept is not None), default=timedelta(0))
    return max(configured, longest + REDELIVERY_MARGIN)


class Bookkeeping(Protocol):
    async def expired_jobs(self, cutoff: datetime, *, limit: int) -> list[uuid.UUID]: ...

    async def delete_jobs(self, job_ids: list[uuid.UUID], *, rows_per_statement: int) -> dict[str, int]: ...


async def purge_expired_jobs(
    bookkeeping: Bookkeeping, *, retention: timedelta, now: datetime, jobs_per_batch: int, rows_per_statement: int
) -> int:
    """Delete the rows of every job whose rows are all older than `retention`, `jobs_per_batch` jobs at a time;
    return how many rows were deleted. Safe to run on every replica at once, and to cut short: what is left
    is found again by the next run."""
    cutoff = now - retention
    total = 0
    while jobs := await bookkeeping.expired_jobs(cutoff, limit=jobs_per_batch):
        deleted = await bookkeeping.delete_jobs(jobs, rows_per_statement=rows_per_statement)
        for table, rows in deleted.items():
            MATCHER_BOOKKEEPING_ROWS_DELETED.labels(SERVICE, table).inc(rows)
        total += sum(deleted.values())
        if len(jobs) < jobs_per_batch:
            break
    if total:
        log.info("deleted %d bookkeeping rows of jobs done before %s", total, cutoff.isoformat())
    return total
