"""The CPU pool on real worker processes: a worker killed mid-call (as the kernel kills one for memory) fails
the call with a transient error when it had the pool to itself; calls that shared the pool when it broke are
run again, each alone, so only the work that kills its worker alone is reported lost. The pool is replaced
once per breakage and the next call runs on fresh workers; a pool that cannot be recreated turns liveness
false until it can."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from matcher.adapters import cpu_pool
from matcher.adapters.cpu_pool import CPU_POOL, CpuPool, WorkerLost, cpu_pool_ctx
from platform_common.health import health_of
from platform_common.kafka.consumer import is_transient

# Long enough that a call is still running when its worker is killed; a passing test never waits for it.
BUSY_S = 60
# Long enough that a call is still running when another call's worker dies; run again, it completes.
NAP_S = 2.0


def restarts() -> float:
    return REGISTRY.get_sample_value("recon_matcher_cpu_pool_restarts_total", {"service": "matcher"}) or 0.0


def isolated_reruns() -> float:
    return REGISTRY.get_sample_value("recon_matcher_cpu_isolated_reruns_total", {"service": "matcher"}) or 0.0


def worker_pids() -> set[int]:
    return {child.pid for child in multiprocessing.active_children() if child.pid is not None}


async def started_workers(before: set[int], count: int) -> set[int]:
    """The pids of the `count` workers started since `before` was taken, once they are all up."""
    for _ in range(600):  # 30 s
        if len(started := worker_pids() - before) >= count:
            return started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} workers did not start")


@pytest.fixture
def pool() -> Iterator[CpuPool]:
    pool = CpuPool(2)
    try:
        yield pool
    finally:
        pool.shutdown()


async def test_a_worker_killed_mid_call_fails_that_call_as_transient_and_the_next_call_runs_on_a_fresh_pool(
    pool: CpuPool,
) -> None:
    first_pid = await pool.run(os.getpid)
    restarts_before, reruns_before = restarts(), isolated_reruns()
    busy = asyncio.create_task(pool.run(time.sleep, BUSY_S))
    await asyncio.sleep(0.5)  # the call reaches the worker
    os.kill(first_pid, signal.SIGKILL)

    with pytest.raises(WorkerLost) as raised:
        await busy
    assert is_transient(raised.value)
    assert restarts() == restarts_before + 1
    assert isolated_reruns() == reruns_before, "a call that had the pool to itself is not run again"

    assert await pool.run(os.getpid) != first_pid
    assert await pool.run(sum, [1, 2, 3]) == 6
    assert pool.usable
    assert restarts() == restarts_before + 1


async def test_calls_that_shared_a_pool_that_broke_are_run_again_one_at_a_time_on_one_fresh_pool(
    pool: CpuPool,
) -> None:
    before = worker_pids()
    calls = [asyncio.create_task(pool.run(time.sleep, NAP_S)) for _ in range(2)]
    workers = await started_workers(before, 2)
    restarts_before, reruns_before = restarts(), isolated_reruns()
    os.kill(min(workers), signal.SIGKILL)
    killed_at = time.monotonic()

    assert await asyncio.gather(*calls) == [None, None], "neither call killed the worker: both complete"
    assert time.monotonic() - killed_at >= 2 * NAP_S, "run again one at a time, each with the pool to itself"
    assert isolated_reruns() == reruns_before + 2
    assert restarts() == restarts_before + 1

    fresh_pids = set(await asyncio.gather(pool.run(os.getpid), pool.run(os.getpid)))
    assert not fresh_pids & workers
    assert restarts() == restarts_before + 1


async def test_work_that_kills_its_worker_beside_other_work_is_lost_and_the_other_work_completes(
    pool: CpuPool,
) -> None:
    before = worker_pids()
    innocent = asyncio.create_task(pool.run(time.sleep, NAP_S))
    await started_workers(before, 1)
    restarts_before = restarts()
    # Exits its worker abruptly, as the kernel kills one for memory, while the innocent call is on the pool.
    poison = asyncio.create_task(pool.run(os._exit, 1))

    with pytest.raises(WorkerLost) as raised:
        await poison
    assert type(raised.value) is WorkerLost and is_transient(raised.value)
    assert await innocent is None
    # Once when the poison broke the shared pool, once when it died alone.
    assert restarts() == restarts_before + 2
    assert await pool.run(sum, [1, 2, 3]) == 6


async def test_a_pool_that_cannot_be_recreated_fails_liveness_until_it_can(monkeypatch: pytest.MonkeyPatch) -> None:
    app = web.Application()
    context = cpu_pool_ctx(1)(app)
    await anext(context)
    pool = app[CPU_POOL]
    try:
        assert health_of(app).check_alive() == {"cpu_pool": "ok"}
        worker = await pool.run(os.getpid)

        def no_processes_left(*args: object, **kwargs: object) -> None:
            raise OSError(11, "Resource temporarily unavailable")

        with monkeypatch.context() as patched:
            patched.setattr(cpu_pool, "ProcessPoolExecutor", no_processes_left)
            busy = asyncio.create_task(pool.run(time.sleep, BUSY_S))
            await asyncio.sleep(0.5)
            os.kill(worker, signal.SIGKILL)
            with pytest.raises(WorkerLost):
                await busy
            assert health_of(app).check_alive() == {"cpu_pool": "stalled"}
            with pytest.raises(WorkerLost, match="could not be recreated"):
                await pool.run(os.getpid)
            assert health_of(app).check_alive() == {"cpu_pool": "stalled"}

        assert await pool.run(os.getpid) != worker
        assert health_of(app).check_alive() == {"cpu_pool": "ok"}
    finally:
        with pytest.raises(StopAsyncIteration):
            await anext(context)
    assert health_of(app).check_alive() == {}


# A service process with a started pool that prints its workers' pids, then waits to be killed.
_SERVICE_WITH_A_POOL = """
import asyncio, multiprocessing, os, sys, time
from matcher.adapters.cpu_pool import CpuPool

async def main():
    pool = CpuPool(2)
    await asyncio.gather(*(pool.run(time.sleep, 0.5) for _ in range(2)))
    print(" ".join(str(p.pid) for p in multiprocessing.active_children() if "Spawn" in type(p).__name__), flush=True)
    time.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_workers_leave_when_the_service_process_is_killed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # SIGKILL (or the kernel's OOM killer) gives the service no chance to shut its pool down.
    import subprocess
    import sys

    script = tmp_path / "service.py"
    script.write_text(_SERVICE_WITH_A_POOL)
    service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        assert service.stdout is not None
        workers = [int(pid) for pid in service.stdout.readline().split()]
        assert len(workers) == 2
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "a worker outlived its service"
    finally:
        if service.poll() is None:
            service.kill()
        for pid in workers:  # a failed run must not leave them behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A dead worker whose parent is gone is reaped by init; until then it is a zombie, which counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"
