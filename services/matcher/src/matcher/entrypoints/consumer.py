"""The matcher's two subscriptions: job.started (planning) and shard.requested (the scaled work)."""

from __future__ import annotations

from aiohttp import web
from aiokafka import ConsumerRecord

from matcher.adapters.cpu_pool import CPU_POOL
from matcher.adapters.records import PgRecordStore
from matcher.config import SERVICE, MatcherSettings
from matcher.service_layer import handlers
from platform_common.events import DecodedMessage, JobStarted, ShardRequested
from platform_common.kafka.consumer import MessageHandler
from platform_common.keys import PG_POOL, PUBLISHER

SETTINGS = web.AppKey("matcher_settings", MatcherSettings)
PLANNER_TOPICS = [JobStarted.TOPIC]
SHARD_TOPICS = [ShardRequested.TOPIC]


def _store(app: web.Application) -> PgRecordStore:
    return PgRecordStore(app[PG_POOL], records_table=app[SETTINGS].records_table, service=SERVICE)


def planner_factory(app: web.Application) -> MessageHandler:
    store, cpu, publisher, settings = _store(app), app[CPU_POOL], app[PUBLISHER], app[SETTINGS]

    async def handle(message: DecodedMessage, _: ConsumerRecord[bytes, bytes]) -> None:
        await handlers.plan_job(
            message, store=store, cpu=cpu, publisher=publisher, shard_count=settings.shards_per_job,
            max_matches_per_batch=settings.max_matches_per_batch,
        )  # fmt: skip

    return handle


def shard_factory(app: web.Application) -> MessageHandler:
    store, cpu, publisher, settings = _store(app), app[CPU_POOL], app[PUBLISHER], app[SETTINGS]

    async def handle(message: DecodedMessage, _: ConsumerRecord[bytes, bytes]) -> None:
        await handlers.match_shard(
            message, store=store, cpu=cpu, publisher=publisher, max_items=settings.max_matches_per_batch
        )

    return handle
