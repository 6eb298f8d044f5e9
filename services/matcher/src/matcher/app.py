"""Composition root of the matcher service."""

from __future__ import annotations

from aiohttp import web
from platform_common.db import pg_pool_ctx
from platform_common.http import create_base_app
from platform_common.kafka.consumer import consumer_ctx
from platform_common.kafka.producer import producer_ctx
from platform_common.keys import PG_POOL, PUBLISHER
from platform_common.settings import env_name
from platform_common.telemetry import telemetry_ctx

from matcher.config import SERVICE, MatcherSettings
from matcher.entrypoints import consumer
from matcher.service_layer.handlers import PLANNER_GROUP, SHARD_GROUP


def create_app(settings: MatcherSettings) -> web.Application:
    app = create_base_app(SERVICE, max_body_bytes=settings.http.max_body_bytes)
    app[consumer.SETTINGS] = settings
    kafka_setting = env_name(MatcherSettings, "kafka", "bootstrap_servers")
    common = {"kafka": settings.kafka, "service": SERVICE, "setting_name": kafka_setting, "publisher_key": PUBLISHER,
              "drain_timeout_s": settings.shutdown_timeout_s / 2}
    app.cleanup_ctx.extend([
        telemetry_ctx,
        pg_pool_ctx(settings.postgres, service=SERVICE, key=PG_POOL,
                    setting_name=env_name(MatcherSettings, "postgres", "dsn")),
        producer_ctx(settings.kafka, service=SERVICE, setting_name=kafka_setting, key=PUBLISHER),
        consumer_ctx(topics=consumer.PLANNER_TOPICS, group_id=PLANNER_GROUP,
                     handler_factory=consumer.planner_factory, **common),  # type: ignore[arg-type]
        consumer_ctx(topics=consumer.SHARD_TOPICS, group_id=SHARD_GROUP,
                     handler_factory=consumer.shard_factory, **common),  # type: ignore[arg-type]
    ])
    return app
