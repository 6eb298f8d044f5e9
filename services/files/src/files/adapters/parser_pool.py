"""Parser processes: CPU-bound parsing runs off the event loop, and its output streams back through a Unix
socket so neither side ever holds a whole file.

A job is a module-level function `fn(socket_path, *args)` run in a worker process. It connects to the socket,
writes bytes (back-pressure: `sendall` blocks while the service is busy with COPY), closes, and returns a
small picklable result. A worker killed mid-job breaks the pool; the pool is rebuilt and the caller sees
ParserCrashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Generic, TypeVar

from platform_common.worker_processes import exit_with_parent

log = logging.getLogger(__name__)

T = TypeVar("T")
READ_BLOCK = 1024 * 1024
GIL_SWITCH_INTERVAL_S = 0.0005  # Python's default is 0.005


class ParserCrashed(RuntimeError):
    """A parser process died (killed, out of memory). Not a DomainError: the consumer retries a few times,
    then dead-letters, so one poisonous file cannot block its partition for ever."""


def _warm_up() -> None:
    # Importing the domain (polars, openpyxl) once per worker keeps the first ingestion fast.
    import files.service_layer.parse_worker  # noqa: F401


def _start_worker(parent_pid: int, polars_threads: int) -> None:
    """Worker initializer, run before the worker imports polars (a spawned worker does not import the service's
    __main__), so the thread setting takes effect.

    One polars thread per worker: a worker already overlaps its stages on threads of its own (see
    service_layer.parse_worker) and shares the machine with Postgres, so a second polars thread mostly adds
    contention (about 0.5 CPU-s more per million rows on two cores). A short GIL switch interval hands the GIL
    back sooner to the threads returning from polars while another thread hashes fingerprints."""
    os.environ["POLARS_MAX_THREADS"] = str(polars_threads)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    exit_with_parent(parent_pid)


class WorkerStream(Generic[T]):
    """The bytes a job writes, as an async iterator, and the job's result."""

    def __init__(self, connected: asyncio.Future[asyncio.StreamReader], result: asyncio.Future[T],
                 pool: ParserPool, writers: list[asyncio.StreamWriter], executor: ProcessPoolExecutor) -> None:
        self._connected = connected
        self._result = result
        self._pool = pool
        self._writers = writers
        self._executor = executor
        self.bytes_received = 0

    def close(self) -> None:
        """Stop listening: a worker still writing fails on its next send and returns."""
        for writer in self._writers:
            writer.close()

    async def chunks(self) -> AsyncIterator[bytes]:
        waiting: set[asyncio.Future[Any]] = {self._connected, self._result}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if self._connected not in done:
            return  # the job ended (or failed) without streaming anything
        reader = self._connected.result()
        while block := await reader.read(READ_BLOCK):
            self.bytes_received += len(block)
            yield block

    async def result(self) -> T:
        try:
            return await self._result
        except BrokenProcessPool as error:
            self._pool.restart(self._executor)
            raise ParserCrashed(f"a parser process died: {error}") from error


class ParserPool:
    def __init__(self, *, workers: int, polars_threads: int = 1) -> None:
        self._workers = workers
        self._polars_threads = polars_threads
        self._executor: ProcessPoolExecutor | None = None
        self._socket_dir: Path | None = None

    async def start(self) -> None:
        self._socket_dir = Path(tempfile.mkdtemp(prefix="files-parsers-"))
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _warm_up) for _ in range(self._workers)))

    async def stop(self) -> None:
        if self._executor is not None:
            await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
            self._executor = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the service has threads (telemetry exporters) that fork would copy mid-flight.
        return ProcessPoolExecutor(max_workers=self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(os.getpid(), self._polars_threads))

    def restart(self, broken: ProcessPoolExecutor) -> None:
        """Replace `broken` with a fresh pool, once: every job that was running on it fails with it, and
        only the first to report it may rebuild (the others would discard the fresh pool)."""
        if broken is not self._executor:
            return
        self._executor = self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)
        log.warning("parser pool rebuilt after a worker died")

    @property
    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            raise RuntimeError("parser pool not started")
        return self._executor

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a job that streams nothing (the preview)."""
        executor = self.executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except BrokenProcessPool as error:
            self.restart(executor)
            raise ParserCrashed(f"a parser process died: {error}") from error

    @contextlib.asynccontextmanager
    async def stream(self, fn: Callable[..., T], *args: Any) -> AsyncIterator[WorkerStream[T]]:
        """Run `fn(socket_path, *args)` in a worker; read what it writes through `WorkerStream.chunks()`."""
        assert self._socket_dir is not None
        loop = asyncio.get_running_loop()
        connected: asyncio.Future[asyncio.StreamReader] = loop.create_future()
        writers: list[asyncio.StreamWriter] = []

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            if not connected.done():
                connected.set_result(reader)
            else:
                writer.close()  # one connection per job

        path = self._socket_dir / f"{uuid.uuid4().hex}.sock"
        server = await asyncio.start_unix_server(on_connect, path=str(path), limit=READ_BLOCK)
        executor = self.executor
        job: Future[T] = executor.submit(fn, str(path), *args)
        result = asyncio.wrap_future(job)
        try:
            yield WorkerStream(connected, result, self, writers, executor)
        finally:
            # Closing our end makes a still-writing worker fail fast (BrokenPipe) and return.
            for writer in writers:
                writer.close()
            server.close()
            await server.wait_closed()
            path.unlink(missing_ok=True)
            if not connected.done():
                connected.cancel()
            if not result.done():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(result), timeout=30)
