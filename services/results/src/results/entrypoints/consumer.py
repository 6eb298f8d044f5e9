"""Kafka subscription of the results service."""

from __future__ import annotations

from aiohttp import web
from aiokafka import ConsumerRecord

from platform_common.events import DecodedMessage, MatchBatchProduced
from platform_common.kafka.consumer import MessageHandler
from platform_common.keys import PG_POOL
from results.service_layer import handlers

TOPICS = [MatchBatchProduced.TOPIC]


def handler_factory(app: web.Application) -> MessageHandler:
    pool = app[PG_POOL]

    async def handle(message: DecodedMessage, _: ConsumerRecord[bytes, bytes]) -> bool:
        return await handlers.store_batch(pool, message)

    return handle
