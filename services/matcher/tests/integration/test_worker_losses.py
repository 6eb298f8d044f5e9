"""A shard whose worker process dies on every attempt (too big for a worker's memory) is retried, across
redeliveries, until it has lost MAX_WORKER_LOSSES workers, then fails its job with `shard_worker_lost`; its
event is committed, not dead-lettered, and no longer blocks its partition. Losses are counted in Postgres, so
every replica the shard is redelivered to sees them. A shard that ran on the same CPU pool as the one that
killed its worker is not charged for it: it is run again alone, completes, and its job with it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from matcher_harness import (
    KAFKA_RETRIES,
    OUT_OF_MEMORY,
    PARTITIONS,
    SLOW,
    MatcherHarness,
    Row,
    match_or_die,
    start_harness,
    warm_up,
)
from prometheus_client import REGISTRY

from matcher.adapters.cpu_pool import CpuPool
from matcher.service_layer import handlers
from matcher.service_layer.planning import shard_requests
from platform_common.events import JobProgressed, JobStarted, MatchBatchProduced, ShardRequested
from platform_common.testing import eventually

pytestmark = pytest.mark.integration

CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
RULES = {
    "version": 1,
    "name": "by amount",
    "passes": [
        {
            "name": "by-currency",
            "cardinality": "one_to_one",
            "blocking": [{"field": "currency"}],
            "comparisons": [{"type": "numeric_tolerance", "field": "amount", "absolute": "0.01", "mode": "filter"}],
            "auto_match_threshold": 1.0,
            "review_threshold": 0.5,
        }
    ],
}


def statement(side: str, rows: int = 40) -> list[Row]:
    start = date(2026, 3, 1)
    return [
        (
            f"{side}{i:04d}",
            Decimal(100 + i) + Decimal("0.25"),
            CURRENCIES[i % len(CURRENCIES)],
            start + timedelta(days=i % 20),
            f"INV-{i:04d}",
            f"Payee {i % 17}",
        )
        for i in range(rows)
    ]


async def test_a_shard_that_kills_its_worker_every_time_fails_its_job_after_the_limit(
    matcher: MatcherHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handlers, "match_records", match_or_die)
    # One more loss than the runner's attempts per delivery: the count must survive a redelivery.
    limit = KAFKA_RETRIES["max_attempts"] + 1
    monkeypatch.setattr(handlers, "MAX_WORKER_LOSSES", limit)
    left = statement("L")
    left[-1] = (f"{OUT_OF_MEMORY}-{left[-1][0]}", *left[-1][1:])
    job = JobStarted(
        job_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        left_dataset_id=await matcher.add_dataset(left),
        right_dataset_id=await matcher.add_dataset(statement("R")),
        rule_set=RULES,
    )
    await matcher.publish(job)

    failed = await matcher.wait_for_failure(job.job_id, timeout_s=90)
    await matcher.wait_until_committed(ShardRequested.TOPIC, matcher.shards)

    poison = await matcher.pool.fetchval(
        "SELECT shard_no FROM shard_members WHERE job_id = $1 AND side = 'L' AND record_id = $2",
        job.job_id,
        left[-1][0],
    )
    assert (failed.stage, failed.error_code, failed.shard_no, failed.shard_count) == (
        "failed",
        "shard_worker_lost",
        poison,
        4,
    )
    assert failed.detail == (
        f"shard {poison} of job {job.job_id} lost its worker process {limit} times (out of "
        "memory?); split the job into smaller shards or raise the matcher's memory"
    )
    stages = [
        (p.event.stage, p.event.shard_no)
        for p in await matcher.published(JobProgressed.TOPIC, job.job_id)
        if isinstance(p.event, JobProgressed)
    ]
    assert stages.count(("failed", poison)) == 1
    assert ("shard_finished", poison) not in stages
    batches = [m.event for m in await matcher.published(MatchBatchProduced.TOPIC, job.job_id)]
    assert poison not in {b.shard_no for b in batches if isinstance(b, MatchBatchProduced)}
    assert sorted(matcher.handled(ShardRequested.TOPIC)) == [1, 1, 1, limit], (
        "the poison shard ran until the limit (over two deliveries), the others once"
    )
    assert await matcher.dead_letters(ShardRequested.TOPIC) == []
    assert (
        await matcher.pool.fetchval(
            "SELECT count(*) FROM shard_worker_losses WHERE job_id = $1 AND shard_no = $2", job.job_id, poison
        )
        == limit
    )
    recorded = await matcher.pool.fetchrow(
        "SELECT shard_no, error_code FROM job_failures WHERE job_id = $1", job.job_id
    )
    assert dict(recorded) == {"shard_no": poison, "error_code": "shard_worker_lost"}


async def test_a_worker_loss_recorded_twice_counts_once_per_shard(matcher: MatcherHarness) -> None:
    job_id, loss, other_loss = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    assert await matcher.store.record_worker_loss(job_id, 2, loss) == 1
    assert await matcher.store.record_worker_loss(job_id, 2, loss) == 1
    assert await matcher.store.record_worker_loss(job_id, 2, other_loss) == 2
    assert await matcher.store.record_worker_loss(job_id, 3, loss) == 1
    assert await matcher.store.record_worker_loss(uuid.uuid4(), 2, loss) == 1


@pytest.fixture
async def two_shard_consumers(stack: dict[str, str], unique: str) -> AsyncIterator[MatcherHarness]:
    """Two members of the shards' group in one process on one two-worker CPU pool: two shards run at once."""
    cpu = CpuPool(2)
    try:
        await warm_up(cpu, 2)
        harness = await start_harness(stack, unique, cpu, shard_consumers=2)
        try:
            yield harness
        finally:
            await harness.stop()
    finally:
        cpu.shutdown()


async def one_shard_job(matcher: MatcherHarness, left: list[Row], right: list[Row]) -> ShardRequested:
    """A job planned as one shard holding every record (as the planner stores it), and its shard's request."""
    job = JobStarted(
        job_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        left_dataset_id=await matcher.add_dataset(left),
        right_dataset_id=await matcher.add_dataset(right),
        rule_set=RULES,
    )
    members = [(side, 0, row[0]) for side, rows in (("L", left), ("R", right)) for row in rows]
    await matcher.store.save_plan(
        job.job_id,
        shard_count=1,
        max_matches_per_batch=50,
        strategy="single",
        members=members,
        left_rows=len(left),
        right_rows=len(right),
    )
    return shard_requests(job, 1, 50)[0]


async def a_partition_of_each_shard_consumer(matcher: MatcherHarness) -> list[int]:
    """One partition of the shard topic per member of the shards' group, once the group has settled."""
    assert matcher.shards is not None
    members = [matcher.shards, *matcher.more_shards]
    owned: list[set[int]] = []

    async def settled() -> bool:
        owned[:] = [{tp.partition for tp in member.consumer.assignment()} for member in members]
        return all(owned) and sum(map(len, owned)) == len(set().union(*owned)) == PARTITIONS

    await eventually(settled, timeout_s=30)
    return [min(partitions) for partitions in owned]


def isolated_reruns() -> float:
    return REGISTRY.get_sample_value("recon_matcher_cpu_isolated_reruns_total", {"service": "matcher"}) or 0.0


async def test_a_shard_beside_one_that_kills_its_worker_completes_and_only_the_killer_fails_its_job(
    two_shard_consumers: MatcherHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    matcher = two_shard_consumers
    monkeypatch.setattr(handlers, "match_records", match_or_die)
    limit = 2  # within one delivery: counting across deliveries is the test above's
    monkeypatch.setattr(handlers, "MAX_WORKER_LOSSES", limit)
    slow_left = statement("L")
    slow_left[0] = (f"{SLOW}-{slow_left[0][0]}", *slow_left[0][1:])
    poison_left = statement("L")
    poison_left[0] = (f"{OUT_OF_MEMORY}-{poison_left[0][0]}", *poison_left[0][1:])
    innocent = await one_shard_job(matcher, slow_left, statement("R"))
    poison = await one_shard_job(matcher, poison_left, statement("R"))
    innocent_partition, poison_partition = await a_partition_of_each_shard_consumer(matcher)
    topic = matcher.events.topic(ShardRequested.TOPIC)
    reruns_before = isolated_reruns()

    await matcher.publish_to_partition(innocent, innocent_partition)

    async def innocent_taken() -> bool:
        return matcher.calls[(topic, innocent_partition, 0)] == 1

    await eventually(innocent_taken, timeout_s=30)
    await asyncio.sleep(0.5)  # its records loaded, the slow shard is on a warm worker for SLOW_S
    # Handled by the other consumer while the innocent shard runs: the poison kills its worker beside it.
    await matcher.publish_to_partition(poison, poison_partition)

    failed = await matcher.wait_for_failure(poison.job_id, timeout_s=180)
    assert matcher.shards is not None
    await matcher.wait_until_committed(ShardRequested.TOPIC, matcher.shards)

    assert (failed.error_code, failed.shard_no) == ("shard_worker_lost", 0)
    assert f"lost its worker process {limit} times" in (failed.detail or "")
    assert matcher.calls[(topic, poison_partition, 0)] == limit, "the poison ran until the limit"
    assert (
        await matcher.pool.fetchval("SELECT count(*) FROM shard_worker_losses WHERE job_id = $1", poison.job_id)
        == limit
    )

    stages = [
        p.event.stage
        for p in await matcher.published(JobProgressed.TOPIC, innocent.job_id)
        if isinstance(p.event, JobProgressed)
    ]
    assert stages == ["shard_finished"], "the shard beside the poison completes and its job is not failed"
    assert await matcher.published(MatchBatchProduced.TOPIC, innocent.job_id) != []
    assert matcher.calls[(topic, innocent_partition, 0)] == 1, "run again alone within its one delivery"
    assert (
        await matcher.pool.fetchval("SELECT count(*) FROM shard_worker_losses WHERE job_id = $1", innocent.job_id) == 0
    )
    assert await matcher.pool.fetchval("SELECT count(*) FROM job_failures WHERE job_id = $1", innocent.job_id) == 0
    assert isolated_reruns() >= reruns_before + 2, "both were on the pool when it broke: both ran again alone"
    assert await matcher.dead_letters(ShardRequested.TOPIC) == []
