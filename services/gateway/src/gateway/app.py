"""Composition root of the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from gateway.adapters.passwords import PasswordHasher
from gateway.adapters.redis_guards import RedisGuards
from gateway.adapters.upstreams import upstreams_ctx
from gateway.api.openapi import render
from gateway.config import SCHEMA, SERVICE, GatewaySettings
from gateway.entrypoints import http
from gateway.entrypoints.context import ACCOUNTS, GUARDS, OPENAPI_DOCUMENT, SETTINGS
from gateway.entrypoints.headers import cors_preflight, response_headers
from gateway.service_layer.accounts import ACCESS_AUDIENCE, ACCESS_ISSUER, AccountService
from platform_common.access import INTERNAL_TOKENS
from platform_common.auth import InternalTokens, TokenCodec, resolve_secret
from platform_common.db import pg_pool_ctx
from platform_common.http import create_base_app
from platform_common.i18n import install_translations
from platform_common.keys import PG_POOL, REDIS
from platform_common.redis import redis_ctx
from platform_common.settings import env_name, with_schema
from platform_common.telemetry import telemetry_ctx

log = logging.getLogger(__name__)

MIGRATIONS = ("gateway.migrations",)
_HOUSEKEEPING_INTERVAL_S = 3600.0


def create_app(settings: GatewaySettings) -> web.Application:
    """The gateway; refuses to start (ConfigurationError naming the variable) without its secrets outside dev."""
    jwt_secret = resolve_secret(settings.auth.jwt_secret, environment=settings.environment,
                                setting_name=env_name(GatewaySettings, "auth", "jwt_secret"))
    internal_key = resolve_secret(settings.auth.internal_key, environment=settings.environment,
                                  setting_name=env_name(GatewaySettings, "auth", "internal_key"))
    previous = [s.get_secret_value().encode() for s in (settings.auth.jwt_previous_secret,) if s is not None]
    app = create_base_app(SERVICE, max_body_bytes=settings.http.max_body_bytes,
                          middlewares=[cors_preflight(settings)])
    app[SETTINGS] = settings
    app[INTERNAL_TOKENS] = InternalTokens(internal_key, ttl_s=settings.auth.internal_token_ttl_s)
    app[OPENAPI_DOCUMENT] = render().encode()
    install_translations(app)
    app.on_response_prepare.append(response_headers(settings))
    app.cleanup_ctx.extend([
        telemetry_ctx,
        pg_pool_ctx(with_schema(settings.postgres, SCHEMA), service=SERVICE, key=PG_POOL,
                    setting_name=env_name(GatewaySettings, "postgres", "dsn"), migrations=MIGRATIONS),
        redis_ctx(settings.redis, key=REDIS, setting_name=env_name(GatewaySettings, "redis", "url")),
        _accounts_ctx(settings, TokenCodec(jwt_secret, issuer=ACCESS_ISSUER, audience=ACCESS_AUDIENCE,
                                           previous=previous)),
        upstreams_ctx(settings.upstreams),
    ])
    http.setup_routes(app)
    return app


def _accounts_ctx(settings: GatewaySettings, codec: TokenCodec) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        guards = RedisGuards(app[REDIS], prefix=settings.rate_limits.key_prefix)
        accounts = AccountService(app[PG_POOL], PasswordHasher(settings.auth), codec, guards, settings.auth)
        app[GUARDS] = guards
        app[ACCOUNTS] = accounts
        housekeeping = asyncio.create_task(_purge_expired_tokens(accounts))
        try:
            yield
        finally:
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping

    return context


async def _purge_expired_tokens(accounts: AccountService) -> None:
    while True:
        await asyncio.sleep(_HOUSEKEEPING_INTERVAL_S)
        try:
            purged = await accounts.purge_expired_tokens()
            log.info("purged %d expired refresh tokens", purged)
        except Exception:
            log.warning("refresh-token housekeeping failed; retrying in an hour", exc_info=True)
