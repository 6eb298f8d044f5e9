"""Composition root of the results service."""

from __future__ import annotations

from aiohttp import web

from platform_common.access import install_service_auth
from platform_common.db import pg_pool_ctx
from platform_common.http import create_base_app
from platform_common.i18n import install_translations
from platform_common.kafka.consumer import consumer_ctx
from platform_common.kafka.producer import producer_ctx
from platform_common.keys import PG_POOL, PUBLISHER
from platform_common.outbox import outbox_relay_ctx
from platform_common.settings import env_name, with_schema
from platform_common.telemetry import telemetry_ctx
from results.config import SCHEMA, SERVICE, ResultsSettings
from results.entrypoints import consumer, http

MIGRATIONS = ("results.migrations",)


def create_app(settings: ResultsSettings) -> web.Application:
    app = create_base_app(SERVICE, max_body_bytes=settings.http.max_body_bytes)
    install_service_auth(app, settings.auth, environment=settings.environment,
                         setting_name=env_name(ResultsSettings, "auth", "internal_key"))
    install_translations(app)
    kafka_setting = env_name(ResultsSettings, "kafka", "bootstrap_servers")
    app.cleanup_ctx.extend([
        telemetry_ctx,
        pg_pool_ctx(with_schema(settings.postgres, SCHEMA), service=SERVICE, key=PG_POOL,
                    setting_name=env_name(ResultsSettings, "postgres", "dsn"), migrations=MIGRATIONS),
        producer_ctx(settings.kafka, service=SERVICE, setting_name=kafka_setting, key=PUBLISHER),
        outbox_relay_ctx(PG_POOL, PUBLISHER),
        consumer_ctx(kafka=settings.kafka, topics=consumer.TOPICS, group_id=settings.consumer_group, service=SERVICE,
                     setting_name=kafka_setting, publisher_key=PUBLISHER,
                     handler_factory=consumer.handler_factory(settings.consumer_group),
                     drain_timeout_s=settings.shutdown_timeout_s / 2),
    ])
    http.setup_routes(app)
    return app
