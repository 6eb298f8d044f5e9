"""Composition root of the gateway."""

from __future__ import annotations

from aiohttp import web

from gateway.adapters.upstreams import upstreams_ctx
from gateway.config import SERVICE, GatewaySettings
from gateway.entrypoints import http
from platform_common.http import create_base_app
from platform_common.keys import REDIS
from platform_common.redis import redis_ctx
from platform_common.settings import env_name
from platform_common.telemetry import telemetry_ctx


def create_app(settings: GatewaySettings) -> web.Application:
    app = create_base_app(SERVICE, max_body_bytes=settings.http.max_body_bytes)
    app.cleanup_ctx.extend([
        telemetry_ctx,
        redis_ctx(settings.redis, key=REDIS, setting_name=env_name(GatewaySettings, "redis", "url")),
        upstreams_ctx(settings.upstreams),
    ])
    http.setup_routes(app)
    return app
