"""Composition root of the projects service."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from platform_common.access import install_service_auth
from platform_common.cache import cache_ctx
from platform_common.db import pg_pool_ctx
from platform_common.http import create_base_app
from platform_common.i18n import install_translations
from platform_common.kafka.consumer import consumer_ctx
from platform_common.kafka.producer import producer_ctx
from platform_common.keys import PG_POOL, PUBLISHER, REDIS
from platform_common.outbox import outbox_relay_ctx
from platform_common.redis import redis_ctx
from platform_common.settings import env_name, with_schema
from platform_common.telemetry import telemetry_ctx
from projects.config import SCHEMA, SERVICE, ProjectsSettings
from projects.entrypoints import consumer, http
from projects.entrypoints.keys import CACHE, DEPS
from projects.service_layer.deps import Deps, cache_policies

MIGRATIONS = ("projects.migrations",)


async def _deps_ctx(app: web.Application) -> AsyncIterator[None]:
    app[DEPS] = Deps(pool=app[PG_POOL], cache=app[CACHE])
    yield


def create_app(settings: ProjectsSettings) -> web.Application:
    app = create_base_app(SERVICE, max_body_bytes=settings.http.max_body_bytes)
    # Projects answers the role questions itself (from its own tables), so no project-access client.
    install_service_auth(app, settings.auth, environment=settings.environment,
                         setting_name=env_name(ProjectsSettings, "auth", "internal_key"), project_access=False)
    install_translations(app)
    postgres = with_schema(settings.postgres, SCHEMA)
    kafka_setting = env_name(ProjectsSettings, "kafka", "bootstrap_servers")
    app.cleanup_ctx.extend([
        telemetry_ctx,
        pg_pool_ctx(postgres, service=SERVICE, key=PG_POOL,
                    setting_name=env_name(ProjectsSettings, "postgres", "dsn"), migrations=MIGRATIONS),
        redis_ctx(settings.redis, key=REDIS, setting_name=env_name(ProjectsSettings, "redis", "url")),
        # Namespaced by schema, so test instances on their own schema never share entries with the real one.
        cache_ctx(redis_key=REDIS, key=CACHE, service=SERVICE, namespace=f"{SERVICE}:{postgres.schema_name}",
                  policies=cache_policies(settings.cache)),
        _deps_ctx,
        producer_ctx(settings.kafka, service=SERVICE, setting_name=kafka_setting, key=PUBLISHER),
        outbox_relay_ctx(PG_POOL, PUBLISHER),
        consumer_ctx(kafka=settings.kafka, topics=consumer.TOPICS, group_id=settings.consumer_group,
                     service=SERVICE, setting_name=kafka_setting, publisher_key=PUBLISHER,
                     handler_factory=consumer.handler_factory(settings.consumer_group),
                     drain_timeout_s=settings.shutdown_timeout_s / 2),
    ])
    http.setup_routes(app)
    return app
