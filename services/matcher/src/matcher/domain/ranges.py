"""Range keys: filter-mode tolerances turned into equi-join probes, so a tolerance join is exact
(100 % recall for the filter) without ever cross-joining a big block.

A left value probes every band a right value within the window can fall into; the filter itself is
re-applied to the pairs afterwards, so bands only need to over-approximate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from matcher.domain.comparators import Prepared

# Windows of at most this many integer values probe each value exactly (no over-generation);
# wider windows use bands of the window's width and probe two bands.
_EXACT_PROBE_SPAN = 3
_LOG_SLACK = 1e-6


@dataclass(frozen=True)
class RangeKey:
    name: str
    kind: Literal["exact", "band", "log"]
    left: np.ndarray  # int64 (minor units or day numbers)
    right: np.ndarray
    left_valid: np.ndarray
    right_valid: np.ndarray
    lo: int = 0  # exact/band: allowed right - left is [lo, hi]
    hi: int = 0
    log_width: float = 0.0  # log: |ln|l| - ln|r|| <= log_width

    def right_bands(self, rows: np.ndarray) -> np.ndarray:
        values: np.ndarray = self.right[rows]
        if self.kind == "exact":
            return values
        if self.kind == "band":
            banded: np.ndarray = np.floor_divide(values, self.hi - self.lo + 1)
            return banded
        return _log_band(values, self.log_width)

    def left_probes(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in `rows`, repeated once per probe; band probed)."""
        values = self.left[rows]
        positions = np.arange(len(rows))
        if self.kind == "exact":
            offsets = np.arange(self.lo, self.hi + 1, dtype=np.int64)
            return np.repeat(positions, len(offsets)), (values[:, None] + offsets[None, :]).ravel()
        if self.kind == "band":
            width = self.hi - self.lo + 1
            first = np.floor_divide(values + self.lo, width)
            last = np.floor_divide(values + self.hi, width)
            return _two_probes(positions, first, last)
        sign = np.sign(values)
        magnitude = np.log(np.maximum(np.abs(values), 1).astype(np.float64))
        reach = self.log_width * (1 + _LOG_SLACK)
        first = np.floor((magnitude - reach) / self.log_width).astype(np.int64)
        last = np.floor((magnitude + reach) / self.log_width).astype(np.int64)
        count = (last - first + 1).astype(np.int64)
        repeated = np.repeat(positions, count)
        starts = np.repeat(first, count)
        step = np.arange(len(repeated)) - np.repeat(np.cumsum(count) - count, count)
        bands = (starts + step) * 3 + np.repeat(sign + 1, count)
        zero = np.repeat(sign == 0, count)
        bands[zero] = 1  # zero only meets zero (any percent < 100 of |x| excludes 0 vs x != 0)
        keep = ~zero | (step == 0)
        return repeated[keep], bands[keep]


def _log_band(values: np.ndarray, width: float) -> np.ndarray:
    sign = np.sign(values)
    magnitude = np.log(np.maximum(np.abs(values), 1).astype(np.float64))
    bands = np.floor(magnitude / width).astype(np.int64) * 3 + (sign + 1)
    return np.where(sign == 0, 1, bands)


def _two_probes(rows: np.ndarray, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    second = last != first
    out_rows = np.concatenate([rows, rows[second]])
    out_bands = np.concatenate([first, last[second]])
    return out_rows, out_bands


def range_keys(comps: list[Prepared], *, exclude_sums: bool) -> list[RangeKey]:
    """Range keys for the pass's filter-mode tolerances, most selective (amount) first.

    In grouped passes the amount test applies to the group's sum, not to members (`exclude_sums`).
    """
    out: list[RangeKey] = []
    for comp in sorted(comps, key=lambda c: 0 if c.kind == "numeric" else 1):
        if not comp.is_filter or comp.ignores_missing:
            continue
        if comp.kind == "numeric" and not exclude_sums:
            key = _numeric_key(comp)
        elif comp.kind == "date":
            lo, hi = comp.window
            key = _linear_key(comp, lo, hi)
        else:
            key = None
        if key is not None:
            out.append(key)
    return out


def _numeric_key(comp: Prepared) -> RangeKey | None:
    # Absolute and percent together admit the union of both windows; no single band covers it
    # cheaply, so such a comparison stays a plain filter.
    if comp.abs_tolerance is not None and comp.percent is None:
        return _linear_key(comp, -comp.abs_tolerance, comp.abs_tolerance)
    if comp.percent is not None and comp.abs_tolerance is None and comp.percent < 100:
        width = -math.log(1 - comp.percent / 100.0)
        if width <= 0:
            return _linear_key(comp, 0, 0)
        return RangeKey(
            name=comp.name, kind="log", left=comp.left, right=comp.right,
            left_valid=comp.left_valid, right_valid=comp.right_valid, log_width=width,
        )  # fmt: skip
    return None


def _linear_key(comp: Prepared, lo: int, hi: int) -> RangeKey:
    kind: Literal["exact", "band"] = "exact" if hi - lo + 1 <= _EXACT_PROBE_SPAN else "band"
    return RangeKey(
        name=comp.name, kind=kind, left=comp.left, right=comp.right,
        left_valid=comp.left_valid, right_valid=comp.right_valid, lo=lo, hi=hi,
    )  # fmt: skip
