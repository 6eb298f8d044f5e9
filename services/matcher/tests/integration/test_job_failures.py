"""A job whose rules cannot run on its records fails as a whole, promptly, with the engine's code and message
on job.progress; the events that carried it are committed, neither redelivered for ever nor dead-lettered,
and a failed job's other shards are not matched. Infrastructure outages are still retried, not failed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from matcher_harness import KAFKA_RETRIES, MatcherHarness, Row

from matcher.domain import InputError, RuleSet, match, plan_shards
from matcher.service_layer.planning import shard_requests
from matcher.service_layer.shard_work import RULE_CHECK_ROWS
from platform_common.events import JobProgressed, JobStarted, MatchBatchProduced, ShardRequested
from platform_common.testing import committed_offsets, eventually

pytestmark = pytest.mark.integration

CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK", "JPY"]
TOLERANCE_ON_TEXT = {"type": "numeric_tolerance", "field": "reference", "absolute": "0.01", "mode": "filter"}
AMOUNT_TOLERANCE = {"type": "numeric_tolerance", "field": "amount", "absolute": "0.01", "mode": "filter"}
# Past the engine's exact range (18 significant digits in minor units): only a comparison on amounts sees it.
TOO_LARGE = Decimal("123456789012345678901.00")


def statement(side: str, rows: int = 150) -> list[Row]:
    start = date(2026, 3, 1)
    return [(f"{side}{i:04d}", Decimal(100 + i) + Decimal("0.25"), CURRENCIES[i % len(CURRENCIES)],
             start + timedelta(days=i % 20), f"INV-{i:04d}", f"Payee {i % 17}") for i in range(rows)]


def rules(*comparisons: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "name": "failing", "passes": [
        {"name": "by-currency", "cardinality": "one_to_one", "blocking": [{"field": "currency"}],
         "comparisons": list(comparisons), "auto_match_threshold": 1.0, "review_threshold": 0.5}]}


async def new_job(matcher: MatcherHarness, rule_set: dict[str, Any], left: list[Row], right: list[Row]) -> JobStarted:
    return JobStarted(job_id=uuid.uuid4(), project_id=uuid.uuid4(), left_dataset_id=await matcher.add_dataset(left),
                      right_dataset_id=await matcher.add_dataset(right), rule_set=rule_set)


async def engine_error(matcher: MatcherHarness, job: JobStarted) -> InputError:
    """What the engine says when it matches the job's whole datasets in one go."""
    left = await matcher.store.load_dataset(job.left_dataset_id)
    right = await matcher.store.load_dataset(job.right_dataset_id)
    with pytest.raises(InputError) as raised:
        match(left, right, RuleSet.model_validate(job.rule_set))
    return raised.value


def progress(messages: list[Any]) -> list[JobProgressed]:
    return [m.event for m in messages if isinstance(m.event, JobProgressed)]


async def test_a_comparison_that_cannot_run_on_its_column_fails_the_job_before_any_shard(
        matcher: MatcherHarness) -> None:
    job = await new_job(matcher, rules(TOLERANCE_ON_TEXT), statement("L"), statement("R"))
    expected = await engine_error(matcher, job)
    await matcher.publish(job)

    failed = await matcher.wait_for_failure(job.job_id)
    await matcher.wait_until_committed(JobStarted.TOPIC, matcher.planner)

    assert (failed.error_code, failed.detail, failed.shard_no) == ("input_invalid", expected.message, None)
    assert "'reference'" in failed.detail
    assert [p.stage for p in progress(await matcher.published(JobProgressed.TOPIC, job.job_id))] == ["failed"]
    assert await matcher.published(ShardRequested.TOPIC, job.job_id) == []
    assert await matcher.store.stored_plan(job.job_id) is None
    assert matcher.handled(JobStarted.TOPIC) == [1]
    assert await matcher.dead_letters(JobStarted.TOPIC) == []


async def test_a_shard_whose_records_break_a_comparison_fails_the_job_and_is_committed(
        matcher: MatcherHarness) -> None:
    right = statement("R")
    # The last record sorts past the rows the planner's dry run reads, so planning succeeds and the error
    # first appears in the shard that holds it.
    right[-1] = (right[-1][0], TOO_LARGE, *right[-1][2:])
    assert len(right) > RULE_CHECK_ROWS
    job = await new_job(matcher, rules(AMOUNT_TOLERANCE), statement("L"), right)
    expected = await engine_error(matcher, job)
    await matcher.publish(job)

    failed = await matcher.wait_for_failure(job.job_id)
    await matcher.wait_until_committed(ShardRequested.TOPIC, matcher.shards)

    bad_shard = await matcher.pool.fetchval(
        "SELECT shard_no FROM shard_members WHERE job_id = $1 AND side = 'R' AND record_id = $2", job.job_id, right[-1][0])
    assert (failed.error_code, failed.detail) == ("input_invalid", expected.message)
    assert "'amount'" in failed.detail
    assert (failed.shard_no, failed.shard_count) == (bad_shard, 4)
    stages = [(p.stage, p.shard_no) for p in progress(await matcher.published(JobProgressed.TOPIC, job.job_id))]
    assert stages.count(("failed", bad_shard)) == 1
    assert ("shard_finished", bad_shard) not in stages
    batches = [m.event for m in await matcher.published(MatchBatchProduced.TOPIC, job.job_id)]
    assert bad_shard not in {b.shard_no for b in batches}
    assert matcher.handled(ShardRequested.TOPIC) == [1, 1, 1, 1], "each shard handled once, none retried"
    assert await matcher.dead_letters(ShardRequested.TOPIC) == []
    recorded = await matcher.pool.fetchrow("SELECT shard_no, error_code, detail FROM job_failures WHERE job_id = $1",
                                           job.job_id)
    assert dict(recorded) == {"shard_no": bad_shard, "error_code": "input_invalid", "detail": expected.message}


async def request_shards_unchecked(matcher: MatcherHarness, job: JobStarted, shard_count: int) -> None:
    """Plan and request the job's shards the way a planner without the comparison dry run did (an older
    release still planning during a canary): shards whose rules cannot run reach the workers."""
    left = await matcher.store.load_dataset(job.left_dataset_id)
    right = await matcher.store.load_dataset(job.right_dataset_id)
    plan = plan_shards(left, right, RuleSet.model_validate(job.rule_set), n_shards=shard_count)
    members = [(side, int(shard), record_id) for side, frame, shards in (("L", left, plan.left_shard),
                                                                         ("R", right, plan.right_shard))
               for record_id, shard in zip(frame["record_id"], shards, strict=True)]
    await matcher.store.save_plan(job.job_id, shard_count=shard_count, max_matches_per_batch=50,
                                  strategy=plan.strategy, members=members, left_rows=left.height,
                                  right_rows=right.height)
    for shard in shard_requests(job, shard_count, 50):
        await matcher.publish(shard)


async def test_after_one_shard_fails_the_job_its_other_shards_are_skipped(matcher: MatcherHarness) -> None:
    job = await new_job(matcher, rules(TOLERANCE_ON_TEXT), statement("L"), statement("R"))
    expected = await engine_error(matcher, job)
    await request_shards_unchecked(matcher, job, shard_count=4)

    await matcher.wait_for_failure(job.job_id)
    await matcher.wait_until_committed(ShardRequested.TOPIC, matcher.shards)

    reports = progress(await matcher.published(JobProgressed.TOPIC, job.job_id))
    assert len(reports) == 1, "the first failing shard fails the job; the others are skipped, not matched"
    failed = reports[0]
    assert (failed.stage, failed.error_code, failed.detail) == ("failed", "input_invalid", expected.message)
    assert await matcher.published(MatchBatchProduced.TOPIC, job.job_id) == []
    assert matcher.handled(ShardRequested.TOPIC) == [1, 1, 1, 1]
    assert await matcher.dead_letters(ShardRequested.TOPIC) == []
    assert await matcher.pool.fetchval("SELECT shard_no FROM job_failures WHERE job_id = $1",
                                       job.job_id) == failed.shard_no


async def test_a_shard_that_meets_a_database_outage_is_retried_not_failed(matcher: MatcherHarness) -> None:
    job = await new_job(matcher, rules(TOLERANCE_ON_TEXT), statement("L", 10), statement("R", 10))
    shard = shard_requests(job, 1, 50)[0]
    await matcher.pool.close()  # the matcher's database is gone before the shard arrives
    await matcher.publish(shard)

    async def attempts_used() -> bool:
        return sum(matcher.handled(ShardRequested.TOPIC)) >= KAFKA_RETRIES["max_attempts"]

    await eventually(attempts_used, timeout_s=30)
    await asyncio.sleep(1.0)  # time to commit or dead-letter, were the runner going to

    assert matcher.shards is not None
    committed = await committed_offsets(matcher.bootstrap, matcher.shards.group_id,
                                        matcher.events.topic(ShardRequested.TOPIC))
    assert set(committed.values()) == {None}, "an outage is no reason to commit the shard"
    assert await matcher.dead_letters(ShardRequested.TOPIC) == []
    assert await matcher.published(JobProgressed.TOPIC, job.job_id) == []
