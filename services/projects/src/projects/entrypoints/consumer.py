"""Kafka subscriptions of the projects service."""

from __future__ import annotations

from aiohttp import web
from aiokafka import ConsumerRecord

from platform_common.events import DecodedMessage, JobCompleted, JobProgressed
from platform_common.kafka.consumer import MessageHandler
from platform_common.keys import PG_POOL
from projects.service_layer import handlers

TOPICS = [JobProgressed.TOPIC, JobCompleted.TOPIC]


def handler_factory(app: web.Application) -> MessageHandler:
    pool = app[PG_POOL]

    async def handle(message: DecodedMessage, _: ConsumerRecord[bytes, bytes]) -> bool:
        return await handlers.on_job_event(pool, message)

    return handle
