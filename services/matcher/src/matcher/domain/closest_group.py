"""How close a grouped pass came to a group for a record it left unmatched.

While it runs, a grouped pass keeps, per single record it leaves unmatched, what it could still offer
that record (`GroupPool`): in a search pass (`group.max_size`) the candidates that were free at the
record's turn, after the `max_candidates` cut; in a key pass (`group.by`) the complete candidate groups
(every member passes the member-level filters) that no other record took. Blocking, member filters,
size bounds and earlier passes are therefore already applied. Explanations search the pool on demand,
so a run whose unmatched records are never explained pays only for keeping it.

The closest group is exact within the pool: the smallest |group sum - record amount|, then the fewest
members, then the smallest member rows (record_id order), so it is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matcher.domain.subset_search import closest

_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class GroupPool:
    """Per single record a grouped pass left unmatched, its options: member rows (search pass) or
    group ids (key pass), `options[offsets[i]:offsets[i + 1]]` for `singles[i]`. Single records
    that are absent had no option at all."""

    pass_index: int
    single_is_left: bool
    by_key: bool
    min_size: int
    max_size: int
    singles: np.ndarray  # sorted
    offsets: np.ndarray
    options: np.ndarray
    # Key pass only: group g is group_members[group_offsets[g] : group_offsets[g + 1]].
    group_offsets: np.ndarray = field(default_factory=lambda: _EMPTY)
    group_members: np.ndarray = field(default_factory=lambda: _EMPTY)

    def holds(self, singles: np.ndarray) -> np.ndarray:
        """Whether the pass left each single record unmatched with a list of options (maybe empty)."""
        return self._positions(singles)[1]

    def available(self, singles: np.ndarray) -> np.ndarray:
        """How many options each single record had (0 if it had none)."""
        if len(self.singles) == 0:
            return np.zeros(len(singles), dtype=np.int64)
        position, held = self._positions(singles)
        return np.where(held, np.diff(self.offsets)[position], 0)

    def _positions(self, singles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each single record's index in `singles` (clipped) and whether it is really there."""
        if len(self.singles) == 0:
            return np.zeros(len(singles), dtype=np.int64), np.zeros(len(singles), dtype=bool)
        position = np.minimum(np.searchsorted(self.singles, singles), len(self.singles) - 1)
        return position, self.singles[position] == singles


def pool_from_lists(
    pass_index: int, single_is_left: bool, min_size: int, max_size: int, singles: list[int], options: list[np.ndarray]
) -> GroupPool:
    """A search pass's pool from the candidate lists it looked at, in any record order."""
    order = np.argsort(np.array(singles, dtype=np.int64), kind="stable")
    lists = [options[i] for i in order.tolist()]
    return GroupPool(
        pass_index=pass_index, single_is_left=single_is_left, by_key=False, min_size=min_size, max_size=max_size,
        singles=np.array(singles, dtype=np.int64)[order],
        offsets=np.concatenate([[0], np.cumsum([len(x) for x in lists], dtype=np.int64)]).astype(np.int64),
        options=np.concatenate(lists).astype(np.int64) if lists else _EMPTY,
    )  # fmt: skip


def pool_of_groups(
    pass_index: int, single_is_left: bool, min_size: int, single_rows: np.ndarray, group_ids: np.ndarray,
    group_members: np.ndarray, group_size: np.ndarray,
) -> GroupPool:  # fmt: skip
    """A key pass's pool: (single, group) options sorted by single, groups' members in group order."""
    starts = np.flatnonzero(np.append(True, single_rows[1:] != single_rows[:-1])) if len(single_rows) else _EMPTY
    return GroupPool(
        pass_index=pass_index, single_is_left=single_is_left, by_key=True, min_size=min_size,
        max_size=int(group_size.max()) if len(group_size) else min_size,
        singles=single_rows[starts].astype(np.int64), offsets=np.append(starts, len(single_rows)).astype(np.int64),
        options=group_ids.astype(np.int64), group_offsets=np.concatenate([[0], np.cumsum(group_size)]).astype(np.int64),
        group_members=group_members.astype(np.int64),
    )  # fmt: skip


def closest_groups(
    pool: GroupPool, singles: np.ndarray, single_amounts: np.ndarray, member_amounts: np.ndarray
) -> list[np.ndarray]:
    """The closest group's sorted member rows for each of `singles` (empty: no group was possible)."""
    out = [_EMPTY] * len(singles)
    available = pool.available(singles)
    if pool.by_key:
        asked = np.flatnonzero(available > 0)
        found = _closest_key_groups(pool, singles[asked], single_amounts, member_amounts)
        for position, members in zip(asked.tolist(), found, strict=True):
            out[position] = members
        return out
    for k in np.unique(available[available >= pool.min_size]).tolist():
        asked = np.flatnonzero(available == k)
        first = pool.offsets[np.searchsorted(pool.singles, singles[asked])]
        rows = pool.options[first[:, None] + np.arange(k)[None, :]]
        found = closest(rows, member_amounts[rows], single_amounts[singles[asked]], pool.min_size, pool.max_size)
        for position, members in zip(asked.tolist(), found, strict=True):
            out[position] = members
    return out


def _closest_key_groups(
    pool: GroupPool, singles: np.ndarray, single_amounts: np.ndarray, member_amounts: np.ndarray
) -> list[np.ndarray]:
    """Key pass: every option is a whole group, so the closest is a plain minimum over them."""
    position = np.searchsorted(pool.singles, singles)
    counts = pool.offsets[position + 1] - pool.offsets[position]
    asked = np.repeat(np.arange(len(singles)), counts)
    cells = np.repeat(pool.offsets[position] - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    groups = pool.options[cells]
    sizes = np.diff(pool.group_offsets)
    # Every group has at least min_size members, so no reduceat segment is empty.
    sums = np.add.reduceat(member_amounts[pool.group_members], pool.group_offsets[:-1]) if len(sizes) else _EMPTY
    distance = np.abs(sums[groups] - single_amounts[singles[asked]])
    first_member = pool.group_members[pool.group_offsets[groups]]  # groups are disjoint: it decides ties
    order = np.lexsort((first_member, sizes[groups], distance, asked))
    best = order[np.flatnonzero(np.append(True, asked[order][1:] != asked[order][:-1]))]
    return [pool.group_members[pool.group_offsets[g] : pool.group_offsets[g + 1]] for g in groups[best].tolist()]
