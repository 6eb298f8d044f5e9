"""Composition root of the matcher service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from matcher.adapters.cpu_pool import cpu_pool_ctx
from matcher.config import SCHEMA, SERVICE, MatcherSettings
from matcher.entrypoints import consumer
from matcher.entrypoints.retention import retention_ctx
from matcher.service_layer.handlers import PLANNER_GROUP, SHARD_GROUP
from platform_common.db import pg_pool_ctx
from platform_common.http import create_base_app
from platform_common.kafka.consumer import MessageHandler, consumer_ctx
from platform_common.kafka.producer import producer_ctx
from platform_common.keys import PG_POOL, PUBLISHER
from platform_common.settings import env_name, with_schema
from platform_common.telemetry import telemetry_ctx

MIGRATIONS = ("matcher.migrations",)


def create_app(settings: MatcherSettings) -> web.Application:
    app = create_base_app(SERVICE, max_body_bytes=settings.http.max_body_bytes)
    app[consumer.SETTINGS] = settings
    kafka_setting = env_name(MatcherSettings, "kafka", "bootstrap_servers")

    def subscription(
        topics: list[str], group_id: str, factory: Callable[[web.Application], MessageHandler]
    ) -> Callable[[web.Application], AsyncIterator[None]]:
        return consumer_ctx(
            kafka=settings.kafka,
            topics=topics,
            group_id=group_id,
            service=SERVICE,
            setting_name=kafka_setting,
            publisher_key=PUBLISHER,
            handler_factory=factory,
            drain_timeout_s=settings.shutdown_timeout_s / 2,
        )

    app.cleanup_ctx.extend(
        [
            telemetry_ctx,
            pg_pool_ctx(
                with_schema(settings.postgres, SCHEMA),
                service=SERVICE,
                key=PG_POOL,
                setting_name=env_name(MatcherSettings, "postgres", "dsn"),
                migrations=MIGRATIONS,
            ),
            retention_ctx(settings),
            cpu_pool_ctx(settings.cpu_workers),
            producer_ctx(settings.kafka, service=SERVICE, setting_name=kafka_setting, key=PUBLISHER),
            subscription(consumer.PLANNER_TOPICS, PLANNER_GROUP, consumer.planner_factory),
            subscription(consumer.SHARD_TOPICS, SHARD_GROUP, consumer.shard_factory),
        ]
    )
    return app
