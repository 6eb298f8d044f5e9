"""Redis client as a cleanup context with a readiness check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from platform_common.health import health_of
from platform_common.settings import ConfigurationError, RedisSettings


def redis_ctx(settings: RedisSettings, *, key: web.AppKey[aioredis.Redis],
              setting_name: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """Connect (failing fast with the setting's name), register readiness, close on exit."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        client = aioredis.from_url(settings.url.get_secret_value(),
                                   socket_connect_timeout=settings.connect_timeout_s,
                                   socket_timeout=settings.connect_timeout_s)
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            await client.aclose()
            raise ConfigurationError(
                f"startup error: Redis unreachable via {setting_name} ({type(error).__name__})"
            ) from None
        app[key] = client

        async def ready() -> None:
            await client.ping()

        health_of(app).add_readiness("redis", ready)
        try:
            yield
        finally:
            health_of(app).remove("redis")
            await client.aclose()

    return context
