"""The parser processes are configured before they import polars (one polars thread each unless told otherwise),
and a dead one costs its pool's running jobs and one rebuild."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import polars as pl
import pytest

from files.adapters.parser_pool import GIL_SWITCH_INTERVAL_S, ParserCrashed, ParserPool

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("threads", [1, 2])
async def test_a_parser_process_uses_the_configured_polars_threads(threads: int) -> None:
    pool = ParserPool(workers=1, polars_threads=threads)
    await pool.start()
    try:
        # Module-level functions travel by name, so the worker runs them in its own interpreter.
        assert await pool.call(pl.thread_pool_size) == threads
        assert await pool.call(sys.getswitchinterval) == GIL_SWITCH_INTERVAL_S
    finally:
        await pool.stop()


async def test_a_dead_worker_fails_its_pools_jobs_and_the_pool_is_rebuilt_once() -> None:
    pool = ParserPool(workers=2)
    await pool.start()  # starts and warms both workers
    try:
        broken = pool.executor
        worker_pids = list(broken._processes)  # the pool's own record of its workers
        assert len(worker_pids) == 2
        running = [asyncio.ensure_future(pool.call(time.sleep, 5.0)) for _ in range(2)]
        await asyncio.sleep(0.5)  # both jobs are running, one on each worker
        os.kill(worker_pids[0], signal.SIGKILL)
        outcomes = await asyncio.gather(*running, return_exceptions=True)
        assert [type(outcome) for outcome in outcomes] == [ParserCrashed, ParserCrashed]
        rebuilt = pool.executor
        assert rebuilt is not broken
        pool.restart(broken)  # a late report of the same breakage keeps the fresh pool
        assert pool.executor is rebuilt
        assert await pool.call(os.getpid) not in worker_pids
    finally:
        await pool.stop()
