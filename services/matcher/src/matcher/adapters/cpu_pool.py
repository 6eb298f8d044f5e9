"""A process pool for CPU-bound matching, owned by the app's lifetime (cleanup context)."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class CpuPool:
    def __init__(self, workers: int) -> None:
        # spawn, not fork: the parent holds an event loop, sockets and Polars thread pools.
        self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


CPU_POOL = web.AppKey("cpu_pool", CpuPool)


def cpu_pool_ctx(workers: int) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        pool = CpuPool(workers)
        app[CPU_POOL] = pool
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)

    return context
