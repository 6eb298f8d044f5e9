"""A shard whose worker process dies on every attempt (too big for a worker's memory) is retried, across
redeliveries, until it has lost MAX_WORKER_LOSSES workers, then fails its job with `shard_worker_lost`; its
event is committed, not dead-lettered, and no longer blocks its partition. Losses are counted in Postgres, so
every replica the shard is redelivered to sees them."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from matcher_harness import KAFKA_RETRIES, OUT_OF_MEMORY, MatcherHarness, Row, match_or_die

from matcher.service_layer import handlers
from platform_common.events import JobProgressed, JobStarted, MatchBatchProduced, ShardRequested

pytestmark = pytest.mark.integration

CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
RULES = {"version": 1, "name": "by amount", "passes": [
    {"name": "by-currency", "cardinality": "one_to_one", "blocking": [{"field": "currency"}],
     "comparisons": [{"type": "numeric_tolerance", "field": "amount", "absolute": "0.01", "mode": "filter"}],
     "auto_match_threshold": 1.0, "review_threshold": 0.5}]}


def statement(side: str, rows: int = 40) -> list[Row]:
    start = date(2026, 3, 1)
    return [(f"{side}{i:04d}", Decimal(100 + i) + Decimal("0.25"), CURRENCIES[i % len(CURRENCIES)],
             start + timedelta(days=i % 20), f"INV-{i:04d}", f"Payee {i % 17}") for i in range(rows)]


async def test_a_shard_that_kills_its_worker_every_time_fails_its_job_after_the_limit(
        matcher: MatcherHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "match_records", match_or_die)
    # One more loss than the runner's attempts per delivery: the count must survive a redelivery.
    limit = KAFKA_RETRIES["max_attempts"] + 1
    monkeypatch.setattr(handlers, "MAX_WORKER_LOSSES", limit)
    left = statement("L")
    left[-1] = (f"{OUT_OF_MEMORY}-{left[-1][0]}", *left[-1][1:])
    job = JobStarted(job_id=uuid.uuid4(), project_id=uuid.uuid4(), left_dataset_id=await matcher.add_dataset(left),
                     right_dataset_id=await matcher.add_dataset(statement("R")), rule_set=RULES)
    await matcher.publish(job)

    failed = await matcher.wait_for_failure(job.job_id, timeout_s=90)
    await matcher.wait_until_committed(ShardRequested.TOPIC, matcher.shards)

    poison = await matcher.pool.fetchval(
        "SELECT shard_no FROM shard_members WHERE job_id = $1 AND side = 'L' AND record_id = $2", job.job_id,
        left[-1][0])
    assert (failed.stage, failed.error_code, failed.shard_no, failed.shard_count) == (
        "failed", "shard_worker_lost", poison, 4)
    assert failed.detail == (f"shard {poison} of job {job.job_id} lost its worker process {limit} times (out of "
                             "memory?); split the job into smaller shards or raise the matcher's memory")
    stages = [(p.event.stage, p.event.shard_no) for p in await matcher.published(JobProgressed.TOPIC, job.job_id)
              if isinstance(p.event, JobProgressed)]
    assert stages.count(("failed", poison)) == 1
    assert ("shard_finished", poison) not in stages
    batches = [m.event for m in await matcher.published(MatchBatchProduced.TOPIC, job.job_id)]
    assert poison not in {b.shard_no for b in batches if isinstance(b, MatchBatchProduced)}
    assert sorted(matcher.handled(ShardRequested.TOPIC)) == [1, 1, 1, limit], \
        "the poison shard ran until the limit (over two deliveries), the others once"
    assert await matcher.dead_letters(ShardRequested.TOPIC) == []
    assert await matcher.pool.fetchval(
        "SELECT count(*) FROM shard_worker_losses WHERE job_id = $1 AND shard_no = $2", job.job_id, poison) == limit
    recorded = await matcher.pool.fetchrow("SELECT shard_no, error_code FROM job_failures WHERE job_id = $1",
                                           job.job_id)
    assert dict(recorded) == {"shard_no": poison, "error_code": "shard_worker_lost"}


async def test_a_worker_loss_recorded_twice_counts_once_per_shard(matcher: MatcherHarness) -> None:
    job_id, loss, other_loss = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    assert await matcher.store.record_worker_loss(job_id, 2, loss) == 1
    assert await matcher.store.record_worker_loss(job_id, 2, loss) == 1
    assert await matcher.store.record_worker_loss(job_id, 2, other_loss) == 2
    assert await matcher.store.record_worker_loss(job_id, 3, loss) == 1
    assert await matcher.store.record_worker_loss(uuid.uuid4(), 2, loss) == 1
