"""Shared fixtures for the engine's unit tests."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

# Tests import the seeded data generator (`synthetic`) as a sibling module; pytest runs with
# --import-mode=importlib, which does not put the test directory on sys.path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))

AMOUNT = pl.Decimal(38, 2)


def records(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Canonical records from dicts; amounts given as strings or numbers become Decimal(38, 2)."""
    frame = pl.DataFrame(rows)
    if "amount" in frame.columns:
        frame = frame.with_columns(
            pl.Series("amount", [None if v is None else Decimal(str(v)) for v in frame["amount"]], dtype=AMOUNT)
        )
    return frame


def day(n: int) -> dt.date:
    return dt.date(2024, 1, 1) + dt.timedelta(days=n)
