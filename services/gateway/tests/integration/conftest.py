"""Fixtures of the gateway's integration tests: one running platform (gateway + projects) per session."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

# Tests import the harness as a sibling module (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_harness import Platform, start_platform, stop_platform  # noqa: E402


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def platform(stack: dict[str, str]) -> AsyncIterator[Platform]:
    running, projects = await start_platform(stack)
    try:
        yield running
    finally:
        await stop_platform(stack, running, projects)
