"""Fixtures of the projects service's integration tests: two replicas sharing one schema and Redis."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

# Tests import the harness as a sibling module (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from projects_harness import Replica, drop, new_suffix, settings_for, start_replica  # noqa: E402


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def replicas(stack: dict[str, str]) -> AsyncIterator[tuple[Replica, Replica]]:
    suffix, key = new_suffix()
    first = await start_replica(settings_for(stack, suffix, key))
    second = await start_replica(settings_for(stack, suffix, key))
    try:
        yield first, second
    finally:
        await second.client.close()
        await first.client.close()
        await drop(stack, suffix)


@pytest_asyncio.fixture(loop_scope="session")
async def service(replicas: tuple[Replica, Replica]) -> Replica:
    return replicas[0]
