"""What every reader hands the normaliser: a batch of source rows as a polars frame of strings."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import IntEnum

import polars as pl

from files.domain.errors import RowError

LINE = "__line"


class CellKind(IntEnum):
    """Typed cells (XLSX numbers and dates, JSON numbers) skip text inference; they're already exact."""

    TEXT = 0
    NUMBER = 1
    DATE = 2
    BOOLEAN = 3
    NESTED = 4


def kind_column(column: str) -> str:
    return f"{column}\x00kind"


@dataclass(slots=True)
class RawBatch:
    frame: pl.DataFrame  # one String column per source column, LINE (Int64), optional kind columns
    errors: list[RowError] = field(default_factory=list)  # rows the reader could not even split
    may_hold_separators: bool = True  # False when the reader saw no 0x1E/0x1F (fingerprint escaping)
    may_hold_nul: bool = True  # False when the reader saw no NUL (text columns cannot store one)
    # False when no value can hold a backslash, tab, CR or LF, so storage can skip escaping them.
    may_hold_escapes: bool = True

    @property
    def rows_read(self) -> int:
        return self.frame.height + len({e.line for e in self.errors})


def number_text(value: Decimal | int | float) -> str:
    """Exact plain-notation text. Floats (XLSX stores IEEE doubles) use their shortest round-trip form."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if not value:
        value = value.copy_abs()  # no negative zero
    return format(value, "f")


def cell_to_text(value: object) -> tuple[str | None, CellKind]:
    if value is None:
        return None, CellKind.TEXT
    if isinstance(value, str):
        return value, CellKind.TEXT
    if isinstance(value, bool):
        return ("true" if value else "false"), CellKind.BOOLEAN
    if isinstance(value, Decimal | int | float):
        if (isinstance(value, float) and not math.isfinite(value)) or (
                isinstance(value, Decimal) and not value.is_finite()):
            return str(value), CellKind.NESTED  # NaN/inf can never be an amount; the normaliser rejects it
        return number_text(value), CellKind.NUMBER
    if isinstance(value, datetime):
        return value.date().isoformat(), CellKind.DATE
    if isinstance(value, date):
        return value.isoformat(), CellKind.DATE
    if isinstance(value, time | timedelta):
        return str(value), CellKind.TEXT
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False), CellKind.NESTED
    return str(value), CellKind.NESTED


def batch_from_cells(columns: Sequence[str], rows: Sequence[tuple[int, Sequence[object]]],
                     errors: list[RowError]) -> RawBatch:
    """Build a batch from typed cells (XLSX, JSON Lines); rows are padded to the column count."""
    width = len(columns)
    texts: list[list[str | None]] = [[] for _ in range(width)]
    kinds: list[list[int]] = [[] for _ in range(width)]
    for _, cells in rows:
        for index in range(width):
            text, kind = cell_to_text(cells[index] if index < len(cells) else None)
            texts[index].append(text)
            kinds[index].append(int(kind))
    data: dict[str, pl.Series] = {LINE: pl.Series(LINE, [line for line, _ in rows], dtype=pl.Int64)}
    for index, name in enumerate(columns):
        data[name] = pl.Series(name, texts[index], dtype=pl.String)
        if any(kinds[index]):
            data[kind_column(name)] = pl.Series(kind_column(name), kinds[index], dtype=pl.UInt8)
    return RawBatch(frame=pl.DataFrame(data), errors=errors)  # may_hold_separators stays True: rare formats
