"""A process pool for CPU-bound matching, owned by the app's lifetime (cleanup context).

A worker that dies (killed by the kernel for memory, say) breaks a ProcessPoolExecutor for good: every later
call fails at once. The pool therefore replaces its executor when a call fails that way, and the caller sees
WorkerLost, a transient error, so the consumer retries the message on the fresh workers. A pool that cannot
be recreated raises PoolUnavailable (a WorkerLost too): no work of the caller's died, so it is no sign against it.

A broken executor fails every call on it, not only the one that killed its worker, so a loss is only pinned
on a call that had the pool to itself. A call that shared the pool when it broke is run again alone (no other
call starts until it ends): the work that kills its worker then dies alone and is reported as WorkerLost,
while work that merely ran beside it completes. Callers count WorkerLost against their work (a shard that
keeps killing its worker fails its job), so an innocent shard must never see one that was another's doing.
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
from platform_common.metrics import MATCHER_CPU_ISOLATED_RERUNS, MATCHER_CPU_POOL_RESTARTS
from platform_common.worker_processes import exit_with_parent

log = logging.getLogger(__name__)

T = TypeVar("T")


class WorkerLost(TransientError):
    """A worker process died, or the pool could not be recreated; the work itself may well succeed again."""

    code = "cpu_worker_lost"
    title = "A matching worker process died"


class _LostBesideOthers(WorkerLost):
    """A worker died while other calls shared the pool: which call killed it is unknown, so it is no sign
    against this one. Never leaves the pool: the call is run again alone instead."""


class PoolUnavailable(WorkerLost):
    """The pool has no executor and none could be created: the process, not the work, is at fault."""

    code = "cpu_pool_unavailable"
    title = "The matching worker processes could not be started"


class _Call:
    """One call holding a place on the pool, from admission until its outcome is known."""

    __slots__ = ("alone", "shared")

    def __init__(self, *, alone: bool) -> None:
        self.alone = alone  # admitted only with the pool to itself, and nothing else admitted until it ends
        self.shared = False  # another call held a place on the pool at some moment of this one's life


class CpuPool:
    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = self._new_executor()
        self._calls: set[_Call] = set()
        self._alone_waiting = 0
        # One future per waiting admission, resolved whenever a call leaves the pool. Created per wait, so the
        # pool holds no primitive bound to one event loop (tests share a pool across their loops).
        self._waiters: list[asyncio.Future[None]] = []

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent holds an event loop, sockets and Polars thread pools.
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )

    @property
    def usable(self) -> bool:
        """False while a broken pool could not be replaced (liveness: restarting the process is the cure)."""
        return self._executor is not None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker process. WorkerLost means a worker died while this call had the pool to
        itself; a call that shared the pool when it broke is first run again alone (so `fn` must be free of
        side effects: matching and planning are)."""
        try:
            return await self._run_once(fn, args, alone=False)
        except _LostBesideOthers as lost:
            MATCHER_CPU_ISOLATED_RERUNS.labels(SERVICE).inc()
            log.warning("a matching worker process died while the pool ran other work too; this work is run "
                        "again alone to tell whether it was the cause: %s", lost)  # fmt: skip
        return await self._run_once(fn, args, alone=True)

    async def _run_once(self, fn: Callable[..., T], args: tuple[Any, ...], *, alone: bool) -> T:
        call = await self._admitted(alone=alone)
        try:
            executor = self._executor or self._replace(None)
            try:
                return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
            except BrokenProcessPool as error:
                # Every call in flight on the broken executor lands here; only the first replaces it.
                if executor is self._executor:
                    self._replace(executor)
                if call.shared:
                    raise _LostBesideOthers(f"a matching worker process died: {error}") from error
                raise WorkerLost(f"a matching worker process died: {error}") from error
        finally:
            self._leave(call)

    async def _admitted(self, *, alone: bool) -> _Call:
        """Wait for a place on the pool: a call to run alone waits until the pool is empty, and from the moment
        one waits, new calls wait behind it (else a busy pool would never empty)."""
        if alone:
            self._alone_waiting += 1
        try:
            while not self._may_enter(alone=alone):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    self._waiters.remove(waiter)
        finally:
            if alone:
                self._alone_waiting -= 1
                self._wake_waiters()  # a cancelled wait to run alone must not leave the calls behind it waiting
        call = _Call(alone=alone)
        if self._calls:
            call.shared = True
            for other in self._calls:
                other.shared = True
        self._calls.add(call)
        return call

    def _may_enter(self, *, alone: bool) -> bool:
        if alone:
            return not self._calls
        return not self._alone_waiting and not any(call.alone for call in self._calls)

    def _leave(self, call: _Call) -> None:
        self._calls.discard(call)
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _replace(self, broken: ProcessPoolExecutor | None) -> ProcessPoolExecutor:
        """Swap in a fresh executor; raise PoolUnavailable (and stay unusable) when one cannot be created."""
        if broken is not None:
            # No await between the caller's check and this swap, so concurrent failures cannot both replace.
            broken.shutdown(wait=False, cancel_futures=True)
            MATCHER_CPU_POOL_RESTARTS.labels(SERVICE).inc()
            log.warning("a matching worker process died; the CPU pool is replaced")
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
