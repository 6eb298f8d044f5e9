"""Kafka subscription of the files service: file.uploaded, from our uploads and from external drop-offs."""

from __future__ import annotations

from aiohttp import web
from aiokafka import ConsumerRecord

from files.keys import LOCATOR, PARSERS, SETTINGS
from files.service_layer.ingestion import IngestionDeps, receive_file
from platform_common.events import DecodedMessage, FileUploaded
from platform_common.kafka.consumer import MessageHandler
from platform_common.keys import PG_POOL

TOPICS = [FileUploaded.TOPIC]  # the default; app.py subscribes to settings.topics.uploaded


def handler_factory(app: web.Application) -> MessageHandler:
    settings = app[SETTINGS]
    deps = IngestionDeps(pool=app[PG_POOL], parsers=app[PARSERS], locator=app[LOCATOR],
                         copy_timeout_s=settings.ingest.copy_timeout_s, ingested_topic=settings.topics.ingested,
                         block_bytes=settings.ingest.block_bytes)

    async def handle(message: DecodedMessage, _: ConsumerRecord[bytes, bytes]) -> bool:
        return await receive_file(deps, message)

    return handle
