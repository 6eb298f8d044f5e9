"""The two-level cache against real Redis: stampede protection, refresh-ahead, invalidation across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from platform_common.cache import CachePolicy, TwoLevelCache
from platform_common.metrics import CACHE_HITS, CACHE_MISSES
from platform_common.testing import eventually

pytestmark = pytest.mark.integration


class CountingLoader:
    """A 'database' that counts its loads and can be held mid-load."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.loads = 0
        self.version = 0
        self.delay_s = delay_s
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> bytes:
        self.loads += 1
        value = f"v{self.version}".encode()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return value


@pytest.fixture
async def redis_client(redis_url: str, unique: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(match=f"recon:cache:t{unique}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def make_cache(client: aioredis.Redis, unique: str, **policy: float) -> TwoLevelCache:
    settings = {"ttl_s": 30.0, "l1_ttl_s": 10.0, "refresh_ahead": 0.2, "jitter": 0.0, **policy}
    return TwoLevelCache(client, service="unit", namespace=f"t{unique}", policies={"thing": CachePolicy(**settings)})


async def started(cache: TwoLevelCache) -> TwoLevelCache:
    await cache.start()
    return cache


async def until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    async def check() -> bool:
        return condition()

    await eventually(check, timeout_s=timeout_s, every_s=0.01)


def counter(metric: object, level: str) -> float:
    return metric.labels("unit", level, "thing")._value.get()  # type: ignore[attr-defined]


async def test_reads_fill_both_levels_and_count_hits_and_misses(redis_client: aioredis.Redis, unique: str) -> None:
    cache = await started(make_cache(redis_client, unique))
    other = await started(make_cache(redis_client, unique))
    loader = CountingLoader()
    before = {name: counter(metric, level) for name, metric, level in
              [("l1h", CACHE_HITS, "l1"), ("l1m", CACHE_MISSES, "l1"), ("l2h", CACHE_HITS, "l2"),
               ("l2m", CACHE_MISSES, "l2")]}
    try:
        assert await cache.get_or_load("thing", "k", loader) == b"v0"   # L1 miss, L2 miss, load
        assert await cache.get_or_load("thing", "k", loader) == b"v0"   # L1 hit
        assert await other.get_or_load("thing", "k", loader) == b"v0"   # other replica: L1 miss, L2 hit
        assert loader.loads == 1
        assert counter(CACHE_HITS, "l1") - before["l1h"] == 1
        assert counter(CACHE_MISSES, "l1") - before["l1m"] == 2
        assert counter(CACHE_HITS, "l2") - before["l2h"] == 1
        assert counter(CACHE_MISSES, "l2") - before["l2m"] == 1
    finally:
        await cache.close()
        await other.close()


async def test_200_concurrent_reads_of_an_expired_hot_key_cause_one_load(redis_client: aioredis.Redis,
                                                                          unique: str) -> None:
    replicas = [await started(make_cache(redis_client, unique, ttl_s=0.3, l1_ttl_s=0.3)) for _ in range(2)]
    loader = CountingLoader(delay_s=0.05)
    try:
        await replicas[0].get_or_load("thing", "hot", loader)
        await asyncio.sleep(0.45)  # expired in L1 and in Redis
        loader.version, loader.loads = 1, 0
        results = await asyncio.gather(*(replicas[i % 2].get_or_load("thing", "hot", loader) for i in range(200)))
        assert loader.loads == 1
        assert set(results) == {b"v1"}
    finally:
        for cache in replicas:
            await cache.close()


async def test_refresh_ahead_serves_the_old_value_while_one_reload_runs(redis_client: aioredis.Redis,
                                                                        unique: str) -> None:
    cache = await started(make_cache(redis_client, unique, ttl_s=1.0, l1_ttl_s=1.0, refresh_ahead=0.5))
    loader = CountingLoader()
    try:
        await cache.get_or_load("thing", "k", loader)
        await asyncio.sleep(0.6)  # past the refresh point (50 % of the TTL left), not expired
        loader.version, loader.loads = 1, 0
        loader.gate = asyncio.Event()
        early = await asyncio.gather(*(cache.get_or_load("thing", "k", loader) for _ in range(50)))
        assert set(early) == {b"v0"}, "readers are not held up by the refresh"
        await until(lambda: loader.loads == 1)
        loader.gate.set()
        await until(lambda: cache._background == {})
        assert loader.loads == 1
        assert await cache.get_or_load("thing", "k", loader) == b"v1"
    finally:
        await cache.close()


async def test_invalidation_reaches_other_replicas(redis_client: aioredis.Redis, unique: str) -> None:
    writer = await started(make_cache(redis_client, unique))
    reader = await started(make_cache(redis_client, unique))
    loader = CountingLoader()
    try:
        assert await reader.get_or_load("thing", "k", loader, tags=["user:1"]) == b"v0"
        assert await writer.get_or_load("thing", "k", loader, tags=["user:1"]) == b"v0"
        loader.version = 1
        await writer.invalidate("user:1")
        assert await writer.get_or_load("thing", "k", loader, tags=["user:1"]) == b"v1"

        async def reader_sees_it() -> bool:
            return await reader.get_or_load("thing", "k", loader, tags=["user:1"]) == b"v1"

        await eventually(reader_sees_it, timeout_s=3)
        untouched = await reader.get_or_load("thing", "other", loader, tags=["user:2"])
        await writer.invalidate("user:1")
        assert await reader.get_or_load("thing", "other", loader, tags=["user:2"]) == untouched
    finally:
        await writer.close()
        await reader.close()


async def test_a_load_that_raced_an_invalidation_is_not_kept(redis_client: aioredis.Redis, unique: str) -> None:
    cache = await started(make_cache(redis_client, unique))
    loader = CountingLoader()
    loader.gate = asyncio.Event()
    try:
        slow_read = asyncio.create_task(cache.get_or_load("thing", "k", loader, tags=["project:1"]))
        await until(lambda: loader.loads == 1)
        await cache.invalidate("project:1")   # the write committed while the old value was being read
        loader.version = 1
        fresh_read = asyncio.create_task(cache.get_or_load("thing", "k", loader, tags=["project:1"]))
        await until(lambda: loader.loads == 2)  # did not join the pre-write load
        loader.gate.set()
        assert await slow_read == b"v0"
        assert await fresh_read == b"v1"
        assert await cache.get_or_load("thing", "k", loader, tags=["project:1"]) == b"v1"
        other = await started(make_cache(redis_client, unique))
        try:
            assert await other.get_or_load("thing", "k", loader, tags=["project:1"]) == b"v1"
        finally:
            await other.close()
    finally:
        await cache.close()


async def test_loader_errors_reach_every_waiter_and_are_not_cached(redis_client: aioredis.Redis,
                                                                   unique: str) -> None:
    cache = await started(make_cache(redis_client, unique))
    calls = 0

    async def failing() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        raise RuntimeError("database down")

    try:
        results = await asyncio.gather(*(cache.get_or_load("thing", "k", failing) for _ in range(10)),
                                       return_exceptions=True)
        assert calls == 1 and all(isinstance(r, RuntimeError) for r in results)
        assert await cache.get_or_load("thing", "k", CountingLoader()) == b"v0"
    finally:
        await cache.close()


async def test_ttls_are_jittered(redis_client: aioredis.Redis, unique: str) -> None:
    cache = await started(make_cache(redis_client, unique, ttl_s=100.0, jitter=0.1))
    try:
        for index in range(20):
            await cache.get_or_load("thing", f"k{index}", CountingLoader())
        ttls = [await redis_client.pttl(f"recon:cache:t{unique}:v:thing:k{index}") for index in range(20)]
        assert all(89_000 <= ttl <= 110_000 for ttl in ttls)
        assert len(set(ttls)) > 10
    finally:
        await cache.close()


async def test_l1_is_bounded() -> None:
    unreachable = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    cache = TwoLevelCache(unreachable, service="unit", namespace="bounded", max_entries=5,
                          policies={"thing": CachePolicy(ttl_s=30)})
    loader = CountingLoader()
    try:
        for index in range(10):
            assert await cache.get_or_load("thing", f"k{index}", loader) == b"v0"
        assert len(cache._l1) == 5
        assert await cache.get_or_load("thing", "k9", loader) == b"v0"
        assert loader.loads == 10, "Redis being down degrades to loading; it never fails the read"
    finally:
        await unreachable.aclose()
