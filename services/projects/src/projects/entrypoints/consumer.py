"""Kafka subscriptions of the projects service."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiokafka import ConsumerRecord

from platform_common.events import DecodedMessage, FileIngested, JobCompleted, JobProgressed
from platform_common.kafka.consumer import MessageHandler
from projects.entrypoints.keys import DEPS
from projects.service_layer.events import on_event

TOPICS = [JobProgressed.TOPIC, JobCompleted.TOPIC, FileIngested.TOPIC]


def handler_factory(consumer_group: str) -> Callable[[web.Application], MessageHandler]:
    def factory(app: web.Application) -> MessageHandler:
        deps = app[DEPS]

        async def handle(message: DecodedMessage, _: ConsumerRecord[bytes, bytes]) -> bool:
            return await on_event(deps, message, consumer=consumer_group)

        return handle

    return factory
