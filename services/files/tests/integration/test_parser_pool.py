"""The parser processes are configured before they import polars: one polars thread each unless told otherwise."""

from __future__ import annotations

import sys

import polars as pl
import pytest

from files.adapters.parser_pool import GIL_SWITCH_INTERVAL_S, ParserPool

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
