"""Matcher use cases: plan a started job into shards; match one shard and publish its batches."""

from __future__ import annotations

import logging
import uuid

from pydantic import ValidationError

from matcher.adapters.cpu_pool import CpuPool, PoolUnavailable, WorkerLost
from matcher.adapters.records import PgRecordStore
from matcher.config import SERVICE
from matcher.domain import EngineError, RuleError, RuleSet
from matcher.service_layer.planning import batches, event_id, planned, shard_requests
from matcher.service_layer.shard_work import match_records, plan_job_shards
from platform_common.events import DecodedMessage, Event, JobProgressed, JobStarted, ShardRequested, wrap
from platform_common.kafka.producer import EventPublisher
from platform_common.metrics import MATCHER_PAIRS, MATCHER_SHARD_DURATION

log = logging.getLogger(__name__)

PLANNER_GROUP = "matcher-planner"
SHARD_GROUP = "matcher"
# A shard whose worker process died this many times (on any replica) fails its job: it is too big for a
# worker's memory, and retrying it for ever would block its partition. A constant, so every replica agrees.
# Only deaths while the shard had the CPU pool to itself count (CpuPool.run), so another shard's poison
# cannot fail an innocent job.
MAX_WORKER_LOSSES = 3
SHARD_WORKER_LOST = "shard_worker_lost"
PLANNING_WORKER_LOST = "planning_worker_lost"
# Planning loads both whole datasets into one worker: its losses are counted like a shard's, under this number.
PLANNING = -1


async def _publish(publisher: EventPublisher, event: Event, correlation: str, *identity: object) -> None:
    await publisher.publish(
        event, envelope=wrap(event, producer=SERVICE, correlation_id=correlation, event_id=event_id(*identity))
    )


async def plan_job(
    message: DecodedMessage, *, store: PgRecordStore, cpu: CpuPool, publisher: EventPublisher, shard_count: int,
    max_matches_per_batch: int,
) -> None:  # fmt: skip
    """Load both datasets, split them into shards of whole blocks, and request each shard; a job whose rules
    cannot run on its records fails here, before any shard is requested."""
    job = message.event
    assert isinstance(job, JobStarted)
    correlation = str(job.job_id)
    plan_held = await store.stored_plan(job.job_id)
    if plan_held is None:
        try:
            RuleSet.model_validate(job.rule_set)
            left = await store.load_dataset(job.left_dataset_id)
            right = await store.load_dataset(job.right_dataset_id)
            plan = await cpu.run(plan_job_shards, left, right, job.rule_set, shard_count)
        except (ValidationError, EngineError) as error:
            # A job that can never run is finished as failed rather than retried or dead-lettered.
            code = error.code if isinstance(error, EngineError) else RuleError.code
            await _fail_planning(job, code, str(error), publisher=publisher)
            return
        except PoolUnavailable:
            raise  # no worker died under this job: the process is at fault, not the job
        except WorkerLost:
            # Planning's own loss: the pool reran it alone if it shared the pool when a worker died.
            losses = await store.record_worker_loss(job.job_id, PLANNING, uuid.uuid4())
            if losses < MAX_WORKER_LOSSES:
                log.warning("planning job %s lost its worker process (%d of %d); retried", job.job_id, losses,
                            MAX_WORKER_LOSSES)  # fmt: skip
                raise
            detail = (
                f"planning job {job.job_id} lost its worker process {losses} times (out of memory?); the datasets "
                "are too big for one matcher worker: raise the matcher's memory"
            )
            await _fail_planning(job, PLANNING_WORKER_LOST, detail, publisher=publisher)
            return
        plan_held = await store.save_plan(
            job.job_id,
            shard_count=shard_count,
            max_matches_per_batch=max_matches_per_batch,
            strategy=plan.strategy,
            members=plan.members,
            left_rows=left.height,
            right_rows=right.height,
        )
    # Redelivered or planned elsewhere first: the stored plan's requests (same event ids, deduplicated
    # downstream), with its batch size so every replica cuts the same batches.
    shard_count = plan_held.shard_count
    batch_size = plan_held.max_matches_per_batch or max_matches_per_batch
    await _publish(publisher, planned(job, shard_count), correlation, job.job_id, "planned")
    for shard in shard_requests(job, shard_count, batch_size):
        await _publish(publisher, shard, correlation, job.job_id, "shard", shard.shard_no)


async def match_shard(
    message: DecodedMessage, *, store: PgRecordStore, cpu: CpuPool, publisher: EventPublisher, max_items: int
) -> None:
    """Match one shard and publish its batches; deterministic, so a redelivered shard repeats itself exactly,
    whichever replica runs it (the batch size comes from the plan; `max_items` only for older requests).

    An engine error fails the whole job, and so does a shard that lost its worker process MAX_WORKER_LOSSES
    times; a lost worker below that is retried. Shards of a failed job are skipped."""
    shard = message.event
    assert isinstance(shard, ShardRequested)
    correlation = str(shard.job_id)
    if await store.has_failed(shard.job_id):
        log.info("job %s has failed; shard %d skipped", shard.job_id, shard.shard_no)
        return
    with MATCHER_SHARD_DURATION.labels(SERVICE).time():
        left = await store.load_shard(shard.job_id, shard.shard_no, "L", shard.left_dataset_id)
        right = await store.load_shard(shard.job_id, shard.shard_no, "R", shard.right_dataset_id)
        try:
            output = await cpu.run(match_records, left, right, shard.rule_set)
        except EngineError as error:
            # The same records and rules fail the same way on every attempt and every replica: retrying
            # or dead-lettering the shard would leave its job running for ever.
            await _fail_job(shard, error.code, error.message, store=store, publisher=publisher)
            return
        except PoolUnavailable:
            raise  # no worker of this shard's died: the process is at fault, not the shard
        except WorkerLost:
            # The shard's own loss: a worker died while it had the pool to itself. A shard that merely ran
            # beside one that killed its worker was run again alone by the pool, and completed there.
            losses = await store.record_worker_loss(shard.job_id, shard.shard_no, uuid.uuid4())
            if losses < MAX_WORKER_LOSSES:
                log.warning("shard %d of job %s lost its worker process (%d of %d); retried", shard.shard_no,
                            shard.job_id, losses, MAX_WORKER_LOSSES)  # fmt: skip
                raise
            detail = (
                f"shard {shard.shard_no} of job {shard.job_id} lost its worker process {losses} times (out of "
                "memory?); split the job into smaller shards or raise the matcher's memory"
            )
            await _fail_job(shard, SHARD_WORKER_LOST, detail, store=store, publisher=publisher)
            return
    batch_size = shard.max_matches_per_batch or max_items
    for batch in batches(shard, output.matches, output.unmatched, max_items=batch_size):
        await _publish(publisher, batch, correlation, shard.job_id, "batch", shard.shard_no, batch.batch_seq)
    for status in ("auto", "review"):
        MATCHER_PAIRS.labels(SERVICE, status).inc(sum(1 for m in output.matches if m.status == status))
    finished = JobProgressed(
        job_id=shard.job_id, shard_no=shard.shard_no, stage="shard_finished", shard_count=shard.shard_count
    )
    await _publish(publisher, finished, correlation, shard.job_id, "finished", shard.shard_no)


async def _fail_planning(job: JobStarted, code: str, message: str, *, publisher: EventPublisher) -> None:
    log.warning("job %s cannot be planned: %s", job.job_id, message, extra={"ctx_error_code": code})
    failed = JobProgressed(job_id=job.job_id, stage="failed", detail=message[:2000], error_code=code,
                           project_id=job.project_id)  # fmt: skip
    await _publish(publisher, failed, str(job.job_id), job.job_id, "failed")


async def _fail_job(shard: ShardRequested, code: str, message: str, *, store: PgRecordStore,
                    publisher: EventPublisher) -> None:  # fmt: skip
    log.warning("job %s failed in shard %d: %s", shard.job_id, shard.shard_no, message,
                extra={"ctx_error_code": code})  # fmt: skip
    failed = JobProgressed(
        job_id=shard.job_id, shard_no=shard.shard_no, stage="failed", shard_count=shard.shard_count,
        detail=message[:2000], error_code=code, project_id=shard.project_id,
    )  # fmt: skip
    # Published before it is recorded: if recording fails, the redelivered shard fails again and republishes
    # the same event (same id); recorded first, a lost publish would leave the job skipped but never failed.
    await _publish(publisher, failed, str(shard.job_id), shard.job_id, "failed", shard.shard_no)
    await store.record_failure(shard.job_id, shard.shard_no, code, message[:2000])
