"""The matcher's handlers with fakes for the record store, the CPU pool and the publisher: a job whose rules
cannot run on its records fails as a whole with the engine's code and message, before its shards when the
planner can tell, otherwise from the first shard that meets the error; a failed job's shards are skipped.
A shard whose worker process dies is retried until it has lost MAX_WORKER_LOSSES workers, then fails its job."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import polars as pl
import pytest

from conftest import day, records
from matcher.adapters.cpu_pool import PoolUnavailable, WorkerLost
from matcher.adapters.records import StoredPlan
from matcher.domain import InputError, RuleSet, match
from matcher.service_layer import handlers
from matcher.service_layer.planning import shard_requests
from platform_common.errors import DependencyUnavailable
from platform_common.events import DecodedMessage, Envelope, Event, JobProgressed, JobStarted, MatchBatchProduced, wrap
from platform_common.kafka.consumer import is_transient

TOLERANCE_ON_TEXT = {"type": "numeric_tolerance", "field": "reference", "absolute": "0.01"}
AMOUNT_TOLERANCE = {"type": "numeric_tolerance", "field": "amount", "absolute": "0.01"}


def rules(*comparisons: dict[str, Any]) -> dict[str, Any]:
    return {"passes": [{"name": "by-currency", "blocking": [{"field": "currency"}], "comparisons": list(comparisons)}]}


def statement(side: str, rows: int = 6) -> pl.DataFrame:
    return records([{"record_id": f"{side}{i}", "amount": f"{10 + i}.50", "currency": ["EUR", "USD"][i % 2],
                     "value_date": day(i), "reference": f"INV-{i}"} for i in range(rows)])


class FakeStore:
    def __init__(self, *datasets: pl.DataFrame) -> None:
        self.datasets = {uuid.uuid4(): frame for frame in datasets}
        self.plans: dict[uuid.UUID, StoredPlan] = {}
        self.members: dict[uuid.UUID, list[tuple[str, int, str]]] = {}
        self.failures: dict[uuid.UUID, tuple[int, str, str]] = {}
        self.worker_losses: dict[tuple[uuid.UUID, int], set[uuid.UUID]] = {}
        self.shards_loaded = 0
        self.outage: Exception | None = None

    @property
    def ids(self) -> list[uuid.UUID]:
        return list(self.datasets)

    async def stored_plan(self, job_id: uuid.UUID) -> StoredPlan | None:
        return self.plans.get(job_id)

    async def load_dataset(self, dataset_id: uuid.UUID) -> pl.DataFrame:
        return self.datasets[dataset_id]

    async def save_plan(self, job_id: uuid.UUID, *, shard_count: int, max_matches_per_batch: int, strategy: str,
                        members: list[tuple[str, int, str]], left_rows: int, right_rows: int) -> StoredPlan:
        self.plans.setdefault(job_id, StoredPlan(shard_count, max_matches_per_batch))
        self.members.setdefault(job_id, members)
        return self.plans[job_id]

    async def load_shard(self, job_id: uuid.UUID, shard_no: int, side: str, dataset_id: uuid.UUID) -> pl.DataFrame:
        self.shards_loaded += 1
        held = {record_id for s, n, record_id in self.members.get(job_id, []) if (s, n) == (side, shard_no)}
        return self.datasets[dataset_id].filter(pl.col("record_id").is_in(held))

    async def record_failure(self, job_id: uuid.UUID, shard_no: int, error_code: str, detail: str) -> None:
        self.failures.setdefault(job_id, (shard_no, error_code, detail))

    async def record_worker_loss(self, job_id: uuid.UUID, shard_no: int, loss_id: uuid.UUID) -> int:
        losses = self.worker_losses.setdefault((job_id, shard_no), set())
        losses.add(loss_id)
        return len(losses)

    async def has_failed(self, job_id: uuid.UUID) -> bool:
        if self.outage is not None:
            raise self.outage
        return job_id in self.failures


class InlineCpu:
    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)


class DyingCpu:
    """A pool whose worker dies under every call, as it does under a shard too big for its memory."""

    def __init__(self, error: type[WorkerLost] = WorkerLost) -> None:
        self.error = error
        self.calls = 0

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.calls += 1
        raise self.error("a matching worker process died: killed")


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.unavailable = False

    async def publish(self, event: Event, *, correlation_id: str | None = None,
                      envelope: Envelope | None = None) -> Envelope:
        if self.unavailable:
            raise DependencyUnavailable("Kafka did not accept the message", code="kafka_publish_failed")
        self.events.append(event)
        return envelope or wrap(event, producer="test")

    def progress(self) -> list[JobProgressed]:
        return [e for e in self.events if isinstance(e, JobProgressed)]


def job_for(store: FakeStore, rule_set: dict[str, Any]) -> JobStarted:
    left, right = store.ids
    return JobStarted(job_id=uuid.uuid4(), project_id=uuid.uuid4(), left_dataset_id=left, right_dataset_id=right,
                      rule_set=rule_set)


def message(event: Event) -> DecodedMessage:
    return DecodedMessage(envelope=wrap(event, producer="test"), event=event)


def engine_message(store: FakeStore, rule_set: dict[str, Any]) -> str:
    left, right = store.datasets.values()
    with pytest.raises(InputError) as raised:
        match(left, right, RuleSet.model_validate(rule_set))
    return raised.value.message


async def plan(store: FakeStore, job: JobStarted, publisher: FakePublisher, shard_count: int = 2) -> None:
    await handlers.plan_job(message(job), store=store, cpu=InlineCpu(), publisher=publisher,  # type: ignore[arg-type]
                            shard_count=shard_count, max_matches_per_batch=100)


async def run_shard(store: FakeStore, job: JobStarted, shard_no: int, publisher: FakePublisher,
                    cpu: InlineCpu | DyingCpu | None = None) -> None:
    plan_held = store.plans[job.job_id]
    shard = shard_requests(job, plan_held.shard_count, 100)[shard_no]
    await handlers.match_shard(message(shard), store=store, cpu=cpu or InlineCpu(),  # type: ignore[arg-type]
                               publisher=publisher, max_items=100)  # type: ignore[arg-type]


async def planned_unchecked(store: FakeStore, job: JobStarted, shard_count: int = 2) -> None:
    """Store the plan a planner without the comparison dry run made (an older release during a canary)."""
    from matcher.domain import plan_shards

    left, right = store.datasets[job.left_dataset_id], store.datasets[job.right_dataset_id]
    shards = plan_shards(left, right, RuleSet.model_validate(job.rule_set), n_shards=shard_count)
    members = [(side, int(n), record_id) for side, frame, assigned in (("L", left, shards.left_shard),
                                                                       ("R", right, shards.right_shard))
               for record_id, n in zip(frame["record_id"], assigned, strict=True)]
    await store.save_plan(job.job_id, shard_count=shard_count, max_matches_per_batch=100, strategy=shards.strategy,
                          members=members, left_rows=left.height, right_rows=right.height)


async def test_planning_fails_a_job_whose_comparison_cannot_run_on_its_column_before_any_shard() -> None:
    store, publisher = FakeStore(statement("L"), statement("R")), FakePublisher()
    job = job_for(store, rules(TOLERANCE_ON_TEXT))

    await plan(store, job, publisher)

    assert [(p.stage, p.error_code, p.detail, p.shard_no, p.project_id) for p in publisher.progress()] == [
        ("failed", "input_invalid", engine_message(store, job.rule_set), None, job.project_id)]
    assert len(publisher.events) == 1, "no plan announced, no shard requested"
    assert store.plans == {}


async def test_planning_reports_a_rule_set_that_does_not_parse_as_rules_invalid() -> None:
    store, publisher = FakeStore(statement("L"), statement("R")), FakePublisher()
    job = job_for(store, {"passes": [{"name": "nothing to do"}]})

    await plan(store, job, publisher)

    [failed] = publisher.progress()
    assert (failed.stage, failed.error_code) == ("failed", "rules_invalid")
    assert "a pass needs blocking keys or comparisons" in (failed.detail or "")


async def test_a_shard_whose_rules_cannot_run_fails_the_job_with_the_engine_code_and_message() -> None:
    store, publisher = FakeStore(statement("L"), statement("R")), FakePublisher()
    job = job_for(store, rules(TOLERANCE_ON_TEXT))
    await planned_unchecked(store, job)

    await run_shard(store, job, 1, publisher)

    expected = engine_message(store, job.rule_set)
    assert [(p.stage, p.shard_no, p.shard_count, p.error_code, p.detail, p.project_id)
            for p in publisher.progress()] == [("failed", 1, 2, "input_invalid", expected, job.project_id)]
    assert not [e for e in publisher.events if isinstance(e, MatchBatchProduced)]
    assert store.failures == {job.job_id: (1, "input_invalid", expected)}


async def test_a_failed_jobs_other_shards_are_skipped_without_loading_their_records() -> None:
    store, publisher = FakeStore(statement("L"), statement("R")), FakePublisher()
    job = job_for(store, rules(TOLERANCE_ON_TEXT))
    await planned_unchecked(store, job)
    await run_shard(store, job, 0, publisher)
    loaded = store.shards_loaded

    await run_shard(store, job, 1, publisher)

    assert [(p.stage, p.shard_no) for p in publisher.progress()] == [("failed", 0)]
    assert store.shards_loaded == loaded
    assert store.failures[job.job_id][0] == 0


async def test_a_failure_kafka_did_not_take_is_not_recorded_so_the_redelivered_shard_reports_it() -> None:
    store, publisher = FakeStore(statement("L"), statement("R")), FakePublisher()
    job = job_for(store, rules(TOLERANCE_ON_TEXT))
    await planned_unchecked(store, job)
    publisher.unavailable = True

    with pytest.raises(DependencyUnavailable) as raised:
        await run_shard(store, job, 0, publisher)
    assert is_transient(raised.value), "the runner retries it, then seeks back"
    assert store.failures == {}

    publisher.unavailable = False
    await run_shard(store, job, 0, publisher)
    assert [(p.stage, p.shard_no, p.error_code) for p in publisher.progress()] == [("failed", 0, "input_invalid")]


async def test_a_database_outage_before_a_shard_is_left_to_the_runner_to_retry() -> None:
    store, publisher = FakeStore(statement("L"), statement("R")), FakePublisher()
    job = job_for(store, rules(AMOUNT_TOLERANCE))
    await planned_unchecked(store, job)
    store.outage = asyncpg.PostgresConnectionError("connection refused")

    with pytest.raises(asyncpg.PostgresConnectionError) as raised:
        await run_shard(store, job, 0, publisher)

    assert is_transient(raised.value)
    assert publisher.events == []


async def test_a_job_whose_rules_run_is_planned_and_matched_as_before() -> None:
    store, publisher = FakeStore(statement("L"), statement("R")), FakePublisher()
    job = job_for(store, rules(AMOUNT_TOLERANCE))

    await plan(store, job, publisher)
    for shard_no in range(2):
        await run_shard(store, job, shard_no, publisher)

    stages = [(p.stage, p.shard_no) for p in publisher.progress()]
    assert stages == [("planned", None), ("shard_finished", 0), ("shard_finished", 1)]
    matched = sorted(pair for e in publisher.events if isinstance(e, MatchBatchProduced)
                     for pair in ((m.left_ids[0], m.right_ids[0]) for m in e.matches))
    assert matched == [(f"L{i}", f"R{i}") for i in range(6)]
    assert store.failures == {}


async def test_a_shard_that_loses_its_worker_is_retried_until_the_limit_then_fails_its_job() -> None:
    store, publisher, cpu = FakeStore(statement("L"), statement("R")), FakePublisher(), DyingCpu()
    job = job_for(store, rules(AMOUNT_TOLERANCE))
    await plan(store, job, publisher)
    planned_events = len(publisher.events)

    for loss in range(1, handlers.MAX_WORKER_LOSSES):
        with pytest.raises(WorkerLost) as raised:
            await run_shard(store, job, 1, publisher, cpu)
        assert is_transient(raised.value), "below the limit the runner retries the shard, as before"
        assert len(store.worker_losses[(job.job_id, 1)]) == loss
        assert len(publisher.events) == planned_events and store.failures == {}

    await run_shard(store, job, 1, publisher, cpu)  # returns: the runner commits the shard, no dead letter

    limit = handlers.MAX_WORKER_LOSSES
    detail = (f"shard 1 of job {job.job_id} lost its worker process {limit} times (out of memory?); "
              "split the job into smaller shards or raise the matcher's memory")
    assert [(p.stage, p.shard_no, p.shard_count, p.error_code, p.detail) for p in publisher.progress()][1:] == [
        ("failed", 1, 2, "shard_worker_lost", detail)]
    assert store.failures == {job.job_id: (1, "shard_worker_lost", detail)}
    assert cpu.calls == limit

    await run_shard(store, job, 0, publisher, cpu)
    assert cpu.calls == limit, "the failed job's other shards are skipped"


async def test_planning_that_loses_its_worker_is_retried_until_the_limit_then_fails_the_job() -> None:
    store, publisher, cpu = FakeStore(statement("L"), statement("R")), FakePublisher(), DyingCpu()
    job = job_for(store, rules(AMOUNT_TOLERANCE))
    for _ in range(handlers.MAX_WORKER_LOSSES - 1):
        with pytest.raises(WorkerLost) as raised:
            await handlers.plan_job(message(job), store=store, cpu=cpu,  # type: ignore[arg-type]
                                    publisher=publisher, shard_count=2, max_matches_per_batch=100)
        assert is_transient(raised.value) and publisher.events == []

    await handlers.plan_job(message(job), store=store, cpu=cpu,  # type: ignore[arg-type]
                            publisher=publisher, shard_count=2, max_matches_per_batch=100)

    [failed] = publisher.progress()
    assert (failed.stage, failed.error_code, failed.shard_no) == ("failed", "planning_worker_lost", None)
    assert failed.detail is not None and "lost its worker process 3 times" in failed.detail
    assert store.plans == {} and cpu.calls == handlers.MAX_WORKER_LOSSES


async def test_worker_losses_are_counted_per_shard_and_per_job() -> None:
    store, publisher, cpu = FakeStore(statement("L"), statement("R")), FakePublisher(), DyingCpu()
    job, other_job = job_for(store, rules(AMOUNT_TOLERANCE)), job_for(store, rules(AMOUNT_TOLERANCE))
    for planned_job in (job, other_job):
        await plan(store, planned_job, publisher)

    for _ in range(handlers.MAX_WORKER_LOSSES - 1):
        for shard_no in (0, 1):
            with pytest.raises(WorkerLost):
                await run_shard(store, job, shard_no, publisher, cpu)
    with pytest.raises(WorkerLost):
        await run_shard(store, other_job, 0, publisher, cpu)

    assert {key: len(ids) for key, ids in store.worker_losses.items()} == {
        (job.job_id, 0): 2, (job.job_id, 1): 2, (other_job.job_id, 0): 1}
    assert [p.stage for p in publisher.progress()] == ["planned", "planned"]
    assert store.failures == {}


async def test_a_pool_that_cannot_be_recreated_is_retried_without_counting_against_the_shard() -> None:
    store, publisher, cpu = FakeStore(statement("L"), statement("R")), FakePublisher(), DyingCpu(PoolUnavailable)
    job = job_for(store, rules(AMOUNT_TOLERANCE))
    await plan(store, job, publisher)

    for _ in range(handlers.MAX_WORKER_LOSSES + 1):
        with pytest.raises(PoolUnavailable) as raised:
            await run_shard(store, job, 0, publisher, cpu)
        assert is_transient(raised.value)

    assert store.worker_losses == {}
    assert [p.stage for p in publisher.progress()] == ["planned"]


async def test_a_shard_that_lost_workers_but_then_runs_finishes_as_before() -> None:
    store, publisher = FakeStore(statement("L"), statement("R")), FakePublisher()
    job = job_for(store, rules(AMOUNT_TOLERANCE))
    await plan(store, job, publisher)
    for _ in range(handlers.MAX_WORKER_LOSSES - 1):
        with pytest.raises(WorkerLost):
            await run_shard(store, job, 0, publisher, DyingCpu())

    await run_shard(store, job, 0, publisher)

    assert [(p.stage, p.shard_no) for p in publisher.progress()] == [("planned", None), ("shard_finished", 0)]
    assert store.failures == {}
