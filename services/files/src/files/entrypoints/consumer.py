"""Kafka subscription of the files service."""

from __future__ import annotations

from aiohttp import web
from aiokafka import ConsumerRecord

from files.service_layer import handlers
from platform_common.events import DecodedMessage, FileUploaded
from platform_common.kafka.consumer import MessageHandler
from platform_common.keys import PG_POOL

TOPICS = [FileUploaded.TOPIC]


def handler_factory(app: web.Application) -> MessageHandler:
    pool = app[PG_POOL]

    async def handle(message: DecodedMessage, _: ConsumerRecord[bytes, bytes]) -> bool:
        return await handlers.receive_file(pool, message)

    return handle
