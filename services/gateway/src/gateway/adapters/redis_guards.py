"""Rate limits and session revocations in Redis, shared by every gateway replica."""

from __future__ import annotations

import hashlib
import logging
import math

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from platform_common.errors import DependencyUnavailable

log = logging.getLogger(__name__)

# GCRA (generic cell rate algorithm): one key per limited subject holding the "theoretical arrival time".
# A subject may burst `limit` requests, then one every period/limit. Redis' own clock keeps replicas
# consistent; times are milliseconds, written with %.3f because Lua's default number formatting would
# round them to 14 significant digits.
# KEYS[1] limiter key, KEYS[2] (optional) a revocation marker; ARGV[1] limit per period; ARGV[2] period (ms).
# Returns -1 when the marker exists (revoked: nothing counted), 0 (admitted) or the ms to wait.
_GCRA = """
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local interval = period / limit
local clock = redis.call('TIME')
local now = clock[1] * 1000 + clock[2] / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - period
if allow_at > now then return math.ceil(allow_at - now) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now))
return 0
"""
_GCRA_SHA = hashlib.sha1(_GCRA.encode()).hexdigest()  # noqa: S324 (Redis names scripts by their SHA-1)
_MINUTE_MS = 60_000


class RedisGuards:
    def __init__(self, redis: aioredis.Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def wait_before(self, scope: str, subject: str, per_minute: int, *, fail_open: bool) -> int:
        """0 when the request is admitted, else whole seconds to wait (the Retry-After value)."""
        try:
            wait_ms = await self._limit([self._limiter_key(scope, subject)], per_minute)
        except (RedisError, OSError) as error:
            return self._unavailable(error, fail_open=fail_open)
        return _seconds(wait_ms)

    async def admit_session(self, session_id: str | None, user_key: str, per_minute: int) -> tuple[bool, int]:
        """(session revoked?, seconds to wait) for an authenticated request, in one round trip."""
        try:
            wait_ms = await self._limit([self._limiter_key("user", user_key),
                                         self._revoked_key(session_id or "-")], per_minute)
        except (RedisError, OSError) as error:
            # Per-user limits fail open: an outage of the limiter must not become an outage of the API.
            return False, self._unavailable(error, fail_open=True)
        return wait_ms < 0, _seconds(wait_ms)

    async def _limit(self, keys: list[str], per_minute: int) -> int:
        try:
            return int(await self._redis.evalsha(_GCRA_SHA, len(keys), *keys, per_minute, _MINUTE_MS))
        except NoScriptError:
            # First call, or Redis restarted and forgot the script: EVAL sends it (and caches it) once.
            return int(await self._redis.eval(_GCRA, len(keys), *keys, per_minute, _MINUTE_MS))

    async def revoke_session(self, session_id: str, ttl_s: int) -> None:
        """Refuse access tokens of this session until they would have expired anyway."""
        await self._redis.set(self._revoked_key(session_id), b"1", ex=max(1, ttl_s))

    def _limiter_key(self, scope: str, subject: str) -> str:
        return f"{self._prefix}:{scope}:{subject}"

    def _revoked_key(self, session_id: str) -> str:
        return f"{self._prefix}:revoked-session:{session_id}"

    @staticmethod
    def _unavailable(error: Exception, *, fail_open: bool) -> int:
        if fail_open:
            log.warning("rate limiter unavailable (%s); admitting the request", type(error).__name__)
            return 0
        raise DependencyUnavailable("Sign-in is temporarily unavailable.", code="dependency_unavailable") from error


def _seconds(wait_ms: int) -> int:
    return max(1, math.ceil(wait_ms / 1000)) if wait_ms > 0 else 0
