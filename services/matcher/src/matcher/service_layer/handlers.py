"""Matcher use cases: plan a started job into shards; match one shard and publish its batches."""

from __future__ import annotations

from platform_common.events import DecodedMessage, JobProgressed, JobStarted, ShardRequested, wrap
from platform_common.kafka.producer import KafkaEventPublisher

from matcher.config import SERVICE
from matcher.service_layer.planning import batches, event_id, plan_shards, planned

PLANNER_GROUP = "matcher-planner"
SHARD_GROUP = "matcher"


async def plan_job(message: DecodedMessage, *, publisher: KafkaEventPublisher, shard_count: int) -> None:
    """Publish the plan and one shard.requested per shard; re-planning publishes identical event ids."""
    job = message.event
    assert isinstance(job, JobStarted)
    correlation = str(job.job_id)
    progress = planned(job, shard_count)
    await publisher.publish(progress, envelope=wrap(progress, producer=SERVICE, correlation_id=correlation,
                                                    event_id=event_id(job.job_id, "planned")))
    for shard in plan_shards(job, shard_count):
        await publisher.publish(shard, envelope=wrap(shard, producer=SERVICE, correlation_id=correlation,
                                                     event_id=event_id(job.job_id, "shard", shard.shard_no)))


async def match_shard(message: DecodedMessage, *, publisher: KafkaEventPublisher, max_items: int) -> None:
    """Match one shard and publish its batches; deterministic, so a redelivered shard repeats itself exactly."""
    shard = message.event
    assert isinstance(shard, ShardRequested)
    correlation = str(shard.job_id)
    for batch in batches(shard, [], [], max_items=max_items):
        await publisher.publish(batch, envelope=wrap(
            batch, producer=SERVICE, correlation_id=correlation,
            event_id=event_id(shard.job_id, "batch", shard.shard_no, batch.batch_seq)))
    finished = JobProgressed(job_id=shard.job_id, shard_no=shard.shard_no, stage="shard_finished",
                             shard_count=shard.shard_count)
    await publisher.publish(finished, envelope=wrap(finished, producer=SERVICE, correlation_id=correlation,
                                                    event_id=event_id(shard.job_id, "finished", shard.shard_no)))
