"""Kafka subscriptions of the results service: match batches, and job progress for the job's failure."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiokafka import ConsumerRecord

from platform_common.events import DecodedMessage, JobProgressed, MatchBatchProduced
from platform_common.kafka.consumer import MessageHandler
from platform_common.keys import PG_POOL
from results.service_layer import handlers

TOPICS = [MatchBatchProduced.TOPIC, JobProgressed.TOPIC]


def handler_factory(consumer_group: str) -> Callable[[web.Application], MessageHandler]:
    def factory(app: web.Application) -> MessageHandler:
        pool = app[PG_POOL]

        async def handle(message: DecodedMessage, _: ConsumerRecord[bytes, bytes]) -> bool:
            if isinstance(message.event, JobProgressed):
                return await handlers.record_progress(pool, message, consumer=consumer_group)
            return await handlers.store_batch(pool, message, consumer=consumer_group)

        return handle

    return factory
