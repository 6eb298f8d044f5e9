"""Composition root of the files service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from files.adapters.parser_pool import ParserPool
from files.adapters.projects_client import projects_client_ctx
from files.adapters.storage.context import storage_ctx
from files.config import SCHEMA, SERVICE, FilesSettings
from files.entrypoints import consumer, http
from files.keys import LOCATOR, PARSERS, PROJECTS, SCRATCH, SETTINGS, STORE
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

MIGRATIONS = ("files.migrations",)


def parser_pool_ctx(workers: int) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        pool = ParserPool(workers=workers)
        await pool.start()
        app[PARSERS] = pool
        try:
            yield
        finally:
            await pool.stop()

    return context


def create_app(settings: FilesSettings) -> web.Application:
    app = create_base_app(SERVICE, max_body_bytes=settings.http.max_body_bytes)
    app[SETTINGS] = settings
    install_service_auth(app, settings.auth, environment=settings.environment,
                         setting_name=env_name(FilesSettings, "auth", "internal_key"))
    install_translations(app)
    kafka_setting = env_name(FilesSettings, "kafka", "bootstrap_servers")
    app.cleanup_ctx.extend([
        telemetry_ctx,
        pg_pool_ctx(with_schema(settings.postgres, SCHEMA), service=SERVICE, key=PG_POOL,
                    setting_name=env_name(FilesSettings, "postgres", "dsn"), migrations=MIGRATIONS),
        storage_ctx(settings.storage, scratch_dir=settings.ingest.scratch_dir, store_key=STORE, locator_key=LOCATOR,
                    scratch_key=SCRATCH),
        parser_pool_ctx(settings.ingest.workers),
        projects_client_ctx(str(settings.auth.projects_url), PROJECTS, timeout_s=settings.auth.access_timeout_s),
        producer_ctx(settings.kafka, service=SERVICE, setting_name=kafka_setting, key=PUBLISHER),
        outbox_relay_ctx(PG_POOL, PUBLISHER),
        consumer_ctx(kafka=settings.kafka, topics=[settings.topics.uploaded], group_id=settings.topics.consumer_group,
                     service=SERVICE, setting_name=kafka_setting, publisher_key=PUBLISHER,
                     handler_factory=consumer.handler_factory, drain_timeout_s=settings.shutdown_timeout_s / 2),
    ])
    http.setup_routes(app)
    return app
