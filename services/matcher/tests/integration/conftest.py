"""The matcher's planner and shard consumers in this process, on the real Kafka and Postgres: the runtime's
ConsumerRunner and handler factories, a real worker process pool, and per test a private matcher schema, a
private records table (the files service's migrations) and private copies of the matcher's topics."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from matcher.adapters.cpu_pool import CpuPool

# Tests import the harness as a sibling module (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from matcher_harness import MatcherHarness, start_harness  # noqa: E402


@pytest.fixture(scope="module")
def cpu() -> Iterator[CpuPool]:
    pool = CpuPool(1)
    try:
        yield pool
    finally:
        pool.shutdown()


@pytest.fixture
async def matcher(stack: dict[str, str], unique: str, cpu: CpuPool) -> AsyncIterator[MatcherHarness]:
    harness = await start_harness(stack, unique, cpu)
    try:
        yield harness
    finally:
        await harness.stop()
