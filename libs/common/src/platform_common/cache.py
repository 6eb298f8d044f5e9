"""Two-level cache: an in-process LRU (L1) in front of Redis (L2), for hot read models.

- A read goes L1 → L2 → loader. Concurrent misses of one key share one load (single-flight in the process),
  and replicas share it through a short Redis lock, so an expired hot key costs one database load.
- Refresh-ahead: once less than `refresh_ahead` of an entry's TTL remains, readers keep the cached value
  while one background task reloads it. TTLs are jittered so keys written together do not expire together.
- Invalidation is by tag (e.g. "user:<id>"). Each tag has a version in Redis that every L2 entry records,
  so an entry loaded before an invalidation is never served after it, on any replica; a pub/sub message
  makes the other replicas drop their L1 copies. L1 lifetimes are capped (`l1_ttl_s`) so a lost message
  costs seconds of staleness, and L1 is cleared whenever the subscription had to be re-established.
- Redis trouble degrades to loading from the source; it never fails a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from platform_common.metrics import CACHE_HITS, CACHE_MISSES

log = logging.getLogger(__name__)

Loader = Callable[[], Awaitable[bytes]]
_TAG_TTL_S = 7 * 24 * 3600  # far longer than any entry, so a version never resets under a live entry
_REDIS_FAILURES = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True)
class CachePolicy:
    ttl_s: float
    l1_ttl_s: float = 10.0
    refresh_ahead: float = 0.2
    jitter: float = 0.1


@dataclass
class _Entry:
    value: bytes
    expires_at: float
    refresh_at: float
    tags: tuple[str, ...]


@dataclass(frozen=True)
class _Stored:
    value: bytes
    expires_at: float  # wall clock
    refresh_at: float  # wall clock


@dataclass
class _Flight:
    task: asyncio.Future[bytes]
    tags: tuple[str, ...]


class TwoLevelCache:
    """Byte values by (key type, key); see the module docstring for the guarantees."""

    def __init__(self, redis: aioredis.Redis, *, service: str, namespace: str, policies: Mapping[str, CachePolicy],
                 max_entries: int = 10_000, lock_wait_s: float = 2.0, poll_interval_s: float = 0.02,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 rng: Callable[[], float] = random.random) -> None:
        self._redis = redis
        self._service = service
        self._prefix = f"recon:cache:{namespace}"
        self._channel = f"{self._prefix}:invalidate"
        self._policies = dict(policies)
        self._max_entries = max_entries
        self._lock_wait_s = lock_wait_s
        self._poll_interval_s = poll_interval_s
        self._clock, self._wall, self._rng = clock, wall, rng
        self._id = uuid.uuid4().hex
        self._l1: OrderedDict[str, _Entry] = OrderedDict()
        self._tag_index: dict[str, set[str]] = {}
        self._epochs: dict[str, int] = {}
        self._flights: dict[str, _Flight] = {}
        self._background: dict[str, asyncio.Task[None]] = {}
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None

    # ---- reads -------------------------------------------------------------------------------------------

    async def get_or_load(self, key_type: str, key: str, loader: Loader, *, tags: Sequence[str] = ()) -> bytes:
        """The cached bytes for the key, loading (once, however many callers) when neither level has them."""
        policy = self._policies[key_type]
        full = f"{key_type}:{key}"
        entry = self._l1_get(full)
        if entry is not None:
            self._count(CACHE_HITS, "l1", key_type)
            if self._clock() >= entry.refresh_at:
                self._refresh_soon(key_type, full, loader, entry.tags, policy)
            return entry.value
        self._count(CACHE_MISSES, "l1", key_type)
        flight = self._flights.get(full)
        if flight is None:
            task = asyncio.ensure_future(self._fetch(key_type, full, loader, tuple(tags), policy))
            flight = _Flight(task, tuple(tags))
            self._flights[full] = flight
            task.add_done_callback(functools.partial(self._landed, full, flight))
        return await asyncio.shield(flight.task)

    async def _fetch(self, key_type: str, full: str, loader: Loader, tags: tuple[str, ...],
                     policy: CachePolicy) -> bytes:
        epochs = self._epochs_of(tags)
        stored, versions = await self._read_l2(full, tags)
        if stored is not None:
            self._count(CACHE_HITS, "l2", key_type)
            self._store_l1(full, stored, tags, epochs, policy)
            if self._wall() >= stored.refresh_at:
                self._refresh_soon(key_type, full, loader, tags, policy)
            return stored.value
        self._count(CACHE_MISSES, "l2", key_type)
        lock, token = self._lock_key(full, versions), uuid.uuid4().hex
        locked = await self._try_lock(lock, token)
        if not locked:
            # Another replica is loading this key: its result will appear in L2 shortly.
            stored = await self._wait_for_peer(full, tags)
            if stored is not None:
                self._store_l1(full, stored, tags, epochs, policy)
                return stored.value
        try:
            return await self._load_and_store(full, loader, tags, versions, epochs, policy)
        finally:
            if locked:
                await self._unlock(lock, token)

    async def _load_and_store(self, full: str, loader: Loader, tags: tuple[str, ...], versions: list[str],
                              epochs: tuple[int, ...], policy: CachePolicy) -> bytes:
        value = await loader()
        ttl = self._jittered(policy.ttl_s, policy.jitter)
        now = self._wall()
        stored = _Stored(value, now + ttl, now + ttl * (1.0 - policy.refresh_ahead))
        header = json.dumps({"e": stored.expires_at, "r": stored.refresh_at, "t": versions}).encode()
        with contextlib.suppress(*_REDIS_FAILURES):
            await self._redis.set(self._value_key(full), header + b"\n" + value, px=max(1, int(ttl * 1000)))
        self._store_l1(full, stored, tags, epochs, policy)
        return value

    # ---- refresh-ahead -----------------------------------------------------------------------------------

    def _refresh_soon(self, key_type: str, full: str, loader: Loader, tags: tuple[str, ...],
                      policy: CachePolicy) -> None:
        if full in self._background:
            return
        task = asyncio.ensure_future(self._refresh(full, loader, tags, policy))
        self._background[full] = task
        task.add_done_callback(lambda _: self._background.pop(full, None))

    async def _refresh(self, full: str, loader: Loader, tags: tuple[str, ...], policy: CachePolicy) -> None:
        epochs = self._epochs_of(tags)
        try:
            stored, versions = await self._read_l2(full, tags)
            if stored is not None and self._wall() < stored.refresh_at:
                self._store_l1(full, stored, tags, epochs, policy)  # a peer refreshed it already
                return
            lock, token = self._lock_key(full, versions), uuid.uuid4().hex
            if not await self._try_lock(lock, token):
                return  # a peer is refreshing it now
            try:
                await self._load_and_store(full, loader, tags, versions, epochs, policy)
            finally:
                await self._unlock(lock, token)
        except Exception:
            # A background task is a boundary: the current value stays until it expires.
            log.warning("cache refresh-ahead of %s failed", full, exc_info=True)

    # ---- invalidation --------------------------------------------------------------------------------------

    async def invalidate(self, *tags: str) -> None:
        """Forget every entry carrying any of `tags`, here and on every replica. Call after the commit."""
        if not tags:
            return
        self._drop_local(tags)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for tag in tags:
                    pipe.incr(self._tag_key(tag))
                    pipe.expire(self._tag_key(tag), _TAG_TTL_S)
                pipe.publish(self._channel, json.dumps({"origin": self._id, "tags": list(tags)}))
                await pipe.execute()
        except _REDIS_FAILURES:
            log.warning("cache invalidation of %d tag(s) failed; entries lapse within their TTL", len(tags),
                        exc_info=True)

    def _drop_local(self, tags: Sequence[str]) -> None:
        for tag in tags:
            self._epochs[tag] = self._epochs.get(tag, 0) + 1
            for full in self._tag_index.pop(tag, set()):
                self._evict(full)
        # Later readers must not join a load that started before the write they may have just made.
        stale = [full for full, flight in self._flights.items() if set(flight.tags) & set(tags)]
        for full in stale:
            del self._flights[full]

    async def start(self) -> None:
        """Subscribe to invalidations from other replicas."""
        await self._subscribe()
        self._listener = asyncio.create_task(self._listen())

    async def close(self) -> None:
        tasks = [t for t in (self._listener, *self._background.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._unsubscribe()

    async def _subscribe(self) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel)

    async def _unsubscribe(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(*_REDIS_FAILURES):
                await self._pubsub.aclose()
            self._pubsub = None

    async def _listen(self) -> None:
        while True:
            try:
                if self._pubsub is None:
                    await self._subscribe()
                    self.clear_local()  # messages may have been missed while we were away
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except _REDIS_FAILURES:
                log.warning("cache invalidation subscription lost; re-subscribing", exc_info=True)
                await self._unsubscribe()
                await asyncio.sleep(1.0)
                continue
            if message is not None and message.get("type") == "message":
                self._on_message(message["data"])

    def _on_message(self, data: bytes | str) -> None:
        try:
            payload = json.loads(data)
            tags = [str(t) for t in payload["tags"]]
            origin = payload.get("origin")
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed cache invalidation message")
            return
        if origin != self._id:
            self._drop_local(tags)

    def clear_local(self) -> None:
        """Drop every L1 entry of this process."""
        self._l1.clear()
        self._tag_index.clear()

    # ---- L1 ------------------------------------------------------------------------------------------------

    def _l1_get(self, full: str) -> _Entry | None:
        entry = self._l1.get(full)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._evict(full)
            return None
        self._l1.move_to_end(full)
        return entry

    def _store_l1(self, full: str, stored: _Stored, tags: tuple[str, ...], epochs: tuple[int, ...],
                  policy: CachePolicy) -> None:
        if self._epochs_of(tags) != epochs:
            return  # invalidated while it was loading: serve it to this caller, keep it for nobody
        now_wall, now = self._wall(), self._clock()
        lifetime = min(stored.expires_at - now_wall, self._jittered(policy.l1_ttl_s, policy.jitter))
        if lifetime <= 0:
            return
        self._evict(full)
        self._l1[full] = _Entry(stored.value, now + lifetime, now + (stored.refresh_at - now_wall), tags)
        for tag in tags:
            self._tag_index.setdefault(tag, set()).add(full)
        while len(self._l1) > self._max_entries:
            oldest = next(iter(self._l1))
            self._evict(oldest)

    def _evict(self, full: str) -> None:
        entry = self._l1.pop(full, None)
        if entry is None:
            return
        for tag in entry.tags:
            keys = self._tag_index.get(tag)
            if keys is not None:
                keys.discard(full)
                if not keys:
                    del self._tag_index[tag]

    # ---- L2 and locks ----------------------------------------------------------------------------------------

    async def _read_l2(self, full: str, tags: tuple[str, ...]) -> tuple[_Stored | None, list[str]]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(self._value_key(full))
                if tags:
                    pipe.mget([self._tag_key(t) for t in tags])
                results = await pipe.execute()
        except _REDIS_FAILURES:
            log.warning("cache L2 read failed; loading from the source", exc_info=True)
            return None, ["?"] * len(tags)
        versions = [v.decode() if isinstance(v, bytes) else "0" for v in (results[1] if tags else [])]
        raw = results[0]
        if not isinstance(raw, bytes):
            return None, versions
        header, _, value = raw.partition(b"\n")
        try:
            meta = json.loads(header)
            stored = _Stored(value, float(meta["e"]), float(meta["r"]))
            recorded = [str(v) for v in meta["t"]]
        except (ValueError, KeyError, TypeError):
            return None, versions
        if recorded != versions or stored.expires_at <= self._wall():
            return None, versions
        return stored, versions

    async def _wait_for_peer(self, full: str, tags: tuple[str, ...]) -> _Stored | None:
        deadline = self._clock() + self._lock_wait_s
        while self._clock() < deadline:
            await asyncio.sleep(self._poll_interval_s)
            stored, _ = await self._read_l2(full, tags)
            if stored is not None:
                return stored
        return None

    async def _try_lock(self, lock: str, token: str) -> bool:
        try:
            return bool(await self._redis.set(lock, token, nx=True, px=int(self._lock_wait_s * 1000)))
        except _REDIS_FAILURES:
            return True  # no coordination without Redis: load, as a cache-less service would

    async def _unlock(self, lock: str, token: str) -> None:
        with contextlib.suppress(*_REDIS_FAILURES):
            # Only our own lock: after a slow load it may have expired and been taken by a peer.
            await self._redis.eval(_UNLOCK, 1, lock, token)

    # ---- helpers -------------------------------------------------------------------------------------------

    def _value_key(self, full: str) -> str:
        return f"{self._prefix}:v:{full}"

    def _tag_key(self, tag: str) -> str:
        return f"{self._prefix}:t:{tag}"

    def _lock_key(self, full: str, versions: list[str]) -> str:
        # Versions in the lock name: a load that began before an invalidation never holds up one after it.
        return f"{self._prefix}:l:{full}:{'.'.join(versions)}"

    def _epochs_of(self, tags: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(self._epochs.get(tag, 0) for tag in tags)

    def _jittered(self, seconds: float, jitter: float) -> float:
        return seconds * (1.0 + jitter * (2.0 * self._rng() - 1.0))

    def _count(self, metric: Any, level: str, key_type: str) -> None:
        metric.labels(self._service, level, key_type).inc()

    def _landed(self, full: str, flight: _Flight, task: asyncio.Future[bytes]) -> None:
        if self._flights.get(full) is flight:
            del self._flights[full]
        if not task.cancelled():
            task.exception()  # retrieved here so an error nobody awaited any more is not reported as lost


_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


def cache_ctx(*, redis_key: web.AppKey[aioredis.Redis], key: web.AppKey[TwoLevelCache], service: str,
              namespace: str, policies: Mapping[str, CachePolicy]) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup context owning a cache; register it after Redis and the database so it stops before them."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        cache = TwoLevelCache(app[redis_key], service=service, namespace=namespace, policies=policies)
        await cache.start()
        app[key] = cache
        try:
            yield
        finally:
            await cache.close()

    return context
