"""A process pool for CPU-bound matching, owned by the app's lifetime (cleanup context).

A worker that dies (killed by the kernel for memory, say) breaks a ProcessPoolExecutor for good: every later
call fails at once. The pool therefore replaces its executor when a call fails that way, and the caller sees
WorkerLost, a transient error, so the consumer retries the message on the fresh workers. A pool that cannot
be recreated raises PoolUnavailable (a WorkerLost too): no work of the caller's died, so it is no sign against it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from aiohttp import web

from matcher.config import SERVICE
from platform_common.errors import TransientError
from platform_common.health import health_of
from platform_common.metrics import MATCHER_CPU_POOL_RESTARTS
from platform_common.worker_processes import exit_with_parent

log = logging.getLogger(__name__)

T = TypeVar("T")


class WorkerLost(TransientError):
    """A worker process died, or the pool could not be recreated; the work itself may well succeed again."""

    code = "cpu_worker_lost"
    title = "A matching worker process died"


class PoolUnavailable(WorkerLost):
    """The pool has no executor and none could be created: the process, not the work, is at fault."""

    code = "cpu_pool_unavailable"
    title = "The matching worker processes could not be started"


class CpuPool:
    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent holds an event loop, sockets and Polars thread pools.
        return ProcessPoolExecutor(max_workers=self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=exit_with_parent, initargs=(os.getpid(),))

    @property
    def usable(self) -> bool:
        """False while a broken pool could not be replaced (liveness: restarting the process is the cure)."""
        return self._executor is not None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        executor = self._executor or self._replace(None)
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except BrokenProcessPool as error:
            # Every call in flight on the broken executor lands here; only the first replaces it.
            if executor is self._executor:
                self._replace(executor)
            raise WorkerLost(f"a matching worker process died: {error}") from error

    def _replace(self, broken: ProcessPoolExecutor | None) -> ProcessPoolExecutor:
        """Swap in a fresh executor; raise PoolUnavailable (and stay unusable) when one cannot be created."""
        if broken is not None:
            # No await between the caller's check and this swap, so concurrent failures cannot both replace.
            broken.shutdown(wait=False, cancel_futures=True)
            MATCHER_CPU_POOL_RESTARTS.labels(SERVICE).inc()
            log.warning("a matching worker process died; the CPU pool is replaced and the message retried")
        self._executor = None
        try:
            self._executor = self._new_executor()
        except OSError as error:
            log.error("the CPU pool could not be recreated: %s", error)
            raise PoolUnavailable(f"the CPU pool could not be recreated: {error}") from error
        return self._executor

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


CPU_POOL = web.AppKey("cpu_pool", CpuPool)


def cpu_pool_ctx(workers: int) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        pool = CpuPool(workers)
        app[CPU_POOL] = pool
        health_of(app).add_liveness("cpu_pool", lambda: pool.usable)
        try:
            yield
        finally:
            health_of(app).remove("cpu_pool")
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)

    return context
