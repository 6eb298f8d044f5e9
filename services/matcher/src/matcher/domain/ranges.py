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
# Log bands of non-zero values are 3k or 3k + 2 (by sign); 3k + 1 is left for zero and, with a
# floor, for every magnitude under it.
_SMALL_BAND = 1


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
    # log: magnitudes below this share one band (an absolute tolerance next to the percent one rules
    # there); 0 when the percent window alone decides
    log_floor: float = 0.0

    def right_bands(self, rows: np.ndarray) -> np.ndarray:
        values: np.ndarray = self.right[rows]
        if self.kind == "exact":
            return values
        if self.kind == "band":
            banded: np.ndarray = np.floor_divide(values, self.hi - self.lo + 1)
            return banded
        bands = _log_band(values, self.log_width)
        if self.log_floor > 0:
            bands[np.abs(values) < self.log_floor] = _SMALL_BAND
        return bands

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
        if self.log_floor > 0:
            return self._floored_log_probes(values, positions)
        return self._log_probes(values, positions)

    def _log_probes(self, values: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

    def _floored_log_probes(self, values: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probes when magnitudes under `log_floor` T share the small band.

        Two values >= T pass only within the percent window (then p * base > absolute), so ordinary
        log probes find them. A passing pair with one value under T has the other under
        max(T + absolute, T / (1 - p)), i.e. within one log width above T and of the same sign: a
        small value also probes those bands, and a value that close above T also probes the small band.
        """
        small = np.abs(values) < self.log_floor
        big_rows, big_bands = self._log_probes(values[~small], positions[~small])
        floor_log = math.log(self.log_floor)
        reach = self.log_width * (1 + _LOG_SLACK)
        near_floor = np.log(np.abs(values[~small]).astype(np.float64)) - reach < floor_log
        first = math.floor(floor_log / self.log_width)
        last = math.floor((floor_log + reach) / self.log_width)
        small_rows = positions[small]
        small_signs = np.sign(values[small])
        above = [
            (small_rows[small_signs != 0], band * 3 + small_signs[small_signs != 0] + 1)
            for band in range(first, last + 1)
        ]
        parts = [
            (big_rows, big_bands),
            (positions[~small][near_floor], np.full(int(near_floor.sum()), _SMALL_BAND, dtype=np.int64)),
            (small_rows, np.full(len(small_rows), _SMALL_BAND, dtype=np.int64)),
            *above,
        ]
        return (
            np.concatenate([rows for rows, _ in parts]).astype(np.int64),
            np.concatenate([bands for _, bands in parts]).astype(np.int64),
        )


def _log_band(values: np.ndarray, width: float) -> np.ndarray:
    sign = np.sign(values)
    magnitude = np.log(np.maximum(np.abs(values), 1).astype(np.float64))
    bands = np.floor(magnitude / width).astype(np.int64) * 3 + (sign + 1)
    return np.where(sign == 0, _SMALL_BAND, bands)


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
    if comp.abs_tolerance is not None and comp.percent is None:
        return _linear_key(comp, -comp.abs_tolerance, comp.abs_tolerance)
    if comp.percent is None or comp.percent >= 100:
        return None
    share = comp.percent / 100.0
    width = -math.log(1 - share)
    if width <= 0:
        return _linear_key(comp, -(comp.abs_tolerance or 0), comp.abs_tolerance or 0)
    # With an absolute tolerance too, the pair passes within the wider of both windows; the absolute
    # one is the wider below T = absolute / share + absolute, where all magnitudes share a band.
    floor = comp.abs_tolerance / share + comp.abs_tolerance if comp.abs_tolerance else 0.0
    return RangeKey(
        name=comp.name, kind="log", left=comp.left, right=comp.right,
        left_valid=comp.left_valid, right_valid=comp.right_valid, log_width=width, log_floor=floor,
    )  # fmt: skip


def _linear_key(comp: Prepared, lo: int, hi: int) -> RangeKey:
    kind: Literal["exact", "band"] = "exact" if hi - lo + 1 <= _EXACT_PROBE_SPAN else "band"
    return RangeKey(
        name=comp.name, kind=kind, left=comp.left, right=comp.right,
        left_valid=comp.left_valid, right_valid=comp.right_valid, lo=lo, hi=hi,
    )  # fmt: skip
