"""Candidate generation: exact-key blocks, refined by range keys only where a block is big.

Each (sub-)block is decided on its own size only — join its pairs, refine it with the next range key,
score it densely, or split it — so a block is handled identically in a shard and in the whole job.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from matcher.domain.keys import mix_keys
from matcher.domain.ranges import RangeKey
from matcher.domain.reblocking import WordSource, hot_pairs, hot_rows
from matcher.domain.references import SideCodes

# Blocks with at most this many pairs are joined directly; bigger ones get the next range key.
DIRECT_JOIN_MAX_PAIRS = 64
# Final-level blocks this big are scored as a dense matrix (rapidfuzz cdist) instead of pairwise.
DENSE_MIN_PAIRS_FUZZY = 2_048
DENSE_MIN_PAIRS_PLAIN = 131_072
# Sorted-neighbourhood window (records of both sides together) used to split an oversized block.
SPLIT_WINDOW = 256


@dataclass(frozen=True)
class SlotKeys:
    """Block keys of a filter whose records may hold several codes (a multi-reference `reference`):
    the pass's other keys (`*_base_*`) mixed with one code slot at a time. Slot 0 (every record's
    first code) pairs exactly the records the pass's block key pairs."""

    left_base_a: np.ndarray
    left_base_b: np.ndarray
    left_base_valid: np.ndarray
    left_codes: SideCodes
    right_base_a: np.ndarray
    right_base_b: np.ndarray
    right_base_valid: np.ndarray
    right_codes: SideCodes

    def pair(self, i: int, j: int) -> BlockKeys:
        """Left slot i against right slot j as an ordinary one-key-per-row block key (built on
        demand: held for every slot they would cost 17 bytes per record and slot)."""
        return BlockKeys(
            *_slot_key(self.left_base_a, self.left_base_b, self.left_base_valid, self.left_codes, i),
            *_slot_key(self.right_base_a, self.right_base_b, self.right_base_valid, self.right_codes, j),
        )


def _slot_key(
    base_a: np.ndarray, base_b: np.ndarray, base_valid: np.ndarray, codes: SideCodes, slot: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, present = codes.slot(slot, np.arange(len(base_a)))
    return mix_keys(base_a, a), mix_keys(base_b, b), base_valid & present


@dataclass(frozen=True)
class BlockKeys:
    """The pass's exact block key per row (128 bits as two halves) and whether the row has one."""

    left_a: np.ndarray
    left_b: np.ndarray
    left_valid: np.ndarray
    right_a: np.ndarray
    right_b: np.ndarray
    right_valid: np.ndarray
    # A pair is also a candidate when any left slot key equals any right slot key (blocking on
    # every reference of a multi-reference record, not only its first).
    slots: SlotKeys | None = None


@dataclass
class Candidates:
    pair_left: list[np.ndarray] = field(default_factory=list)
    pair_right: list[np.ndarray] = field(default_factory=list)
    dense_blocks: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    # Blocks that came out of a split: their windows overlap, so pairs may repeat.
    split_blocks: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    blocks: int = 0
    oversized_blocks_split: int = 0
    largest_block_pairs: int = 0
    hot_left_records: int = 0  # re-blocked by shared words (reblocking.py)
    hot_right_records: int = 0

    @property
    def pair_count(self) -> int:
        dense = sum(len(lr) * len(rr) for lr, rr in self.dense_blocks + self.split_blocks)
        return sum(len(x) for x in self.pair_left) + dense

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.pair_left:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(self.pair_left), np.concatenate(self.pair_right)


@dataclass(frozen=True)
class BlockingPlan:
    keys: BlockKeys
    range_keys: list[RangeKey]
    dense_min_pairs: int
    max_block_pairs: int
    # Normalised text of the fuzzy-compared fields; the first one also orders the splitting of big blocks.
    word_sources: list[WordSource] = field(default_factory=list)
    hot_candidates: int = 0  # 0: never re-block hot records
    # Lacking text, an oversized block is split in the order of these (left, right) values: the
    # pass's amounts, then its dates (minor units, day numbers), whatever the comparison's mode.
    split_order: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


def generate(plan: BlockingPlan, left_rows: np.ndarray, right_rows: np.ndarray) -> Candidates:
    """Candidate pairs among the given pool rows (row numbers of each side)."""
    out = _generate(plan, left_rows, right_rows)
    if plan.keys.slots is not None:
        _add_slot_pairs(plan, plan.keys.slots, out, left_rows, right_rows)
    return out


def _generate(plan: BlockingPlan, left_rows: np.ndarray, right_rows: np.ndarray) -> Candidates:
    keys = plan.keys
    lrows = left_rows[keys.left_valid[left_rows]]
    rrows = right_rows[keys.right_valid[right_rows]]
    out = Candidates()
    _level(plan, out, lrows, keys.left_a[lrows], rrows, keys.right_a[rrows], depth=0)
    return out


def _level(
    plan: BlockingPlan, out: Candidates, lrows: np.ndarray, lkey: np.ndarray, rrows: np.ndarray,
    rkey: np.ndarray, depth: int,
) -> None:  # fmt: skip
    if len(lrows) == 0 or len(rrows) == 0:
        return
    left = pl.DataFrame({"row": lrows, "key": lkey})
    right = pl.DataFrame({"row": rrows, "key": rkey})
    if depth == len(plan.range_keys):
        _final_level(plan, out, left, right)
        return
    sizes = _block_sizes(left, right)
    small = sizes.filter(pl.col("pairs") < DIRECT_JOIN_MAX_PAIRS)
    big = sizes.filter(pl.col("pairs") >= DIRECT_JOIN_MAX_PAIRS)
    out.blocks += small.height
    if small.height:
        _join_pairs(plan, out, left, right, small.select("key") if big.height else None)
    if big.height == 0:
        return
    big_keys = big.select("key")
    left_big, right_big = _semi_joined(left, right, big_keys)
    range_key = plan.range_keys[depth]
    lr = left_big["row"].to_numpy()
    rr = right_big["row"].to_numpy()
    lr_keep = range_key.left_valid[lr]
    rr_keep = range_key.right_valid[rr]
    lr, lk = lr[lr_keep], left_big["key"].to_numpy()[lr_keep]
    rr, rk = rr[rr_keep], right_big["key"].to_numpy()[rr_keep]
    positions, probes = range_key.left_probes(lr)
    probe_keys = mix_keys(lk[positions], probes)
    probe_rows, right_keys = lr[positions], mix_keys(rk, range_key.right_bands(rr))
    # This level's frames are not needed below it; at a million records they are ~100 MB a level.
    del left, right, sizes, small, big, big_keys, left_big, right_big, positions, probes, lk
    _level(plan, out, probe_rows, probe_keys, rr, right_keys, depth + 1)


def _add_slot_pairs(
    plan: BlockingPlan, slots: SlotKeys, out: Candidates, left_rows: np.ndarray, right_rows: np.ndarray
) -> None:
    """Pairs that share a code other than both primaries: every other (left slot, right slot)
    combination is blocked like the pass's key (same range keys, dense blocks and splitting), then
    pairs the main key already found and repeats (pairs sharing two codes) are dropped."""
    found_left, found_right = [], []
    for i in range(slots.left_codes.width):
        for j in range(slots.right_codes.width):
            if (i, j) == (0, 0):
                continue
            keys = slots.pair(i, j)
            if not keys.left_valid[left_rows].any() or not keys.right_valid[right_rows].any():
                continue
            sub = _generate(replace(plan, keys=keys), left_rows, right_rows)
            li, ri = sub.pairs()
            blocks = sub.dense_blocks + sub.split_blocks
            found_left += [li, *(np.repeat(lr, len(rr)) for lr, rr in blocks)]
            found_right += [ri, *(np.tile(rr, len(lr)) for lr, rr in blocks)]
    if not found_left:
        return
    li, ri = np.concatenate(found_left), np.concatenate(found_right)
    main = plan.keys
    found_by_main = (main.left_a[li] == main.right_a[ri]) & (main.left_b[li] == main.right_b[ri])
    found_by_main &= main.left_valid[li] & main.right_valid[ri]
    li, ri = li[~found_by_main], ri[~found_by_main]
    pairs = np.unique(np.stack([li, ri], axis=1), axis=0)
    out.pair_left.append(pairs[:, 0].astype(np.int64))
    out.pair_right.append(pairs[:, 1].astype(np.int64))


def _block_sizes(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    # One lazy query, so the two sides' group-bys run side by side: two eager ones run one after the
    # other, each on its own too small to keep both cores busy (~0.15 s less per million-row level).
    return (
        left.lazy().group_by("key").len("n_left")
        .join(right.lazy().group_by("key").len("n_right"), on="key")
        .with_columns(pairs=pl.col("n_left").cast(pl.Int64) * pl.col("n_right"))
        .collect()
    )  # fmt: skip


def _semi_joined(left: pl.DataFrame, right: pl.DataFrame, keys: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both sides' rows of the blocks in `keys`, the two semi-joins run side by side (see _block_sizes)."""
    left_in, right_in = pl.collect_all([
        left.lazy().join(keys.lazy(), on="key", how="semi"),
        right.lazy().join(keys.lazy(), on="key", how="semi"),
    ])  # fmt: skip
    return left_in, right_in


def _final_level(plan: BlockingPlan, out: Candidates, left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Pairs of the final-level blocks; hot records among them are re-blocked by words (reblocking.py)."""
    sizes = _block_sizes(left, right)
    hot = None
    if plan.word_sources and plan.hot_candidates:
        hot = hot_rows(left, right, sizes, plan.keys.left_a, plan.keys.right_a, plan.hot_candidates)
    if hot is None:
        _final_blocks(plan, out, left, right, sizes)
        return
    left_hot, left_cold, right_hot, right_cold = pl.collect_all([
        side.lazy().join(rows.lazy(), on="row", how=how)
        for side, rows in ((left, hot.left), (right, hot.right)) for how in ("semi", "anti")
    ])  # fmt: skip
    # Which blocks are scored densely is decided on the whole level's sizes (no second sizing pass).
    _final_blocks(plan, out, left_cold, right, sizes)
    _final_blocks(plan, out, left_hot, right_cold, sizes)
    _add_same_block_pairs(plan, out, *hot_pairs(plan.word_sources, left_hot, right_hot))
    out.hot_left_records += hot.left.height
    out.hot_right_records += hot.right.height


def _final_blocks(
    plan: BlockingPlan, out: Candidates, left: pl.DataFrame, right: pl.DataFrame, sizes: pl.DataFrame | None = None
) -> None:
    if left.height == 0 or right.height == 0:
        return
    sizes = _block_sizes(left, right) if sizes is None else sizes
    small = sizes.filter(pl.col("pairs") < plan.dense_min_pairs)
    big = sizes.filter(pl.col("pairs") >= plan.dense_min_pairs)
    if small.height:
        _join_pairs(plan, out, left, right, small.select("key") if big.height else None)
    if big.height:
        _dense_blocks(plan, out, *_semi_joined(left, right, big.select("key")))


def _join_pairs(
    plan: BlockingPlan, out: Candidates, left: pl.DataFrame, right: pl.DataFrame, keys: pl.DataFrame | None
) -> None:
    """Pairs of the blocks in `keys` (None: every block is small, join everything)."""
    if keys is not None:
        left = left.join(keys, on="key", how="semi")
    joined = left.join(right, on="key", suffix="_r")
    _add_same_block_pairs(plan, out, joined["row"].to_numpy().astype(np.int64),
                          joined["row_r"].to_numpy().astype(np.int64))  # fmt: skip


def _add_same_block_pairs(plan: BlockingPlan, out: Candidates, li: np.ndarray, ri: np.ndarray) -> None:
    """Keep the pairs whose exact block key (both 64-bit halves) is equal: mixed refinement keys and
    word hashes can collide across exact blocks."""
    keys = plan.keys
    same = (keys.left_a[li] == keys.right_a[ri]) & (keys.left_b[li] == keys.right_b[ri])
    out.pair_left.append(li[same])
    out.pair_right.append(ri[same])


def _dense_blocks(plan: BlockingPlan, out: Candidates, left: pl.DataFrame, right: pl.DataFrame) -> None:
    left = left.sort("key", "row")
    right = right.sort("key", "row")
    lkeys, lstart = np.unique(left["key"].to_numpy(), return_index=True)
    rkeys, rstart = np.unique(right["key"].to_numpy(), return_index=True)
    lend = np.append(lstart[1:], left.height)
    rend = np.append(rstart[1:], right.height)
    lrows_all = left["row"].to_numpy().astype(np.int64)
    rrows_all = right["row"].to_numpy().astype(np.int64)
    rpos = np.searchsorted(rkeys, lkeys)
    for i, j in enumerate(rpos):
        if j >= len(rkeys) or rkeys[j] != lkeys[i]:
            continue  # a block with no records left on the right (hot/cold subsets share one sizing)
        lrows = lrows_all[lstart[i] : lend[i]]
        rrows = rrows_all[rstart[j] : rend[j]]
        # Mixed refinement keys can collide across exact blocks; keep only true exact-key pairs.
        for lsub, rsub in _split_by_exact_key(plan, lrows, rrows):
            out.blocks += 1
            pairs = len(lsub) * len(rsub)
            out.largest_block_pairs = max(out.largest_block_pairs, pairs)
            if pairs > plan.max_block_pairs:
                out.oversized_blocks_split += 1
                out.split_blocks.extend(_sorted_neighbourhood(plan, lsub, rsub))
            else:
                out.dense_blocks.append((lsub, rsub))


def _split_by_exact_key(
    plan: BlockingPlan, lrows: np.ndarray, rrows: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    keys = plan.keys
    la, ra = keys.left_a[lrows], keys.right_a[rrows]
    lb, rb = keys.left_b[lrows], keys.right_b[rrows]
    if (la == la[0]).all() and (ra == la[0]).all() and (lb == lb[0]).all() and (rb == lb[0]).all():
        return [(lrows, rrows)]
    groups = []
    for a, b in sorted(set(zip(la.tolist(), lb.tolist(), strict=True))):
        lsel = lrows[(la == a) & (lb == b)]
        rsel = rrows[(ra == a) & (rb == b)]
        if len(rsel):
            groups.append((lsel, rsel))
    return groups


def _sorted_neighbourhood(
    plan: BlockingPlan, lrows: np.ndarray, rrows: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Windows over the block sorted by a string (forwards and reversed) or, lacking one, by the
    pass's amounts and dates, then row.

    Records are never dropped: every record lands in at least one window with its sort neighbours.
    """
    side = np.concatenate([np.zeros(len(lrows), dtype=np.int8), np.ones(len(rrows), dtype=np.int8)])
    rows = np.concatenate([lrows, rrows])
    orders: list[np.ndarray] = []
    if plan.word_sources:
        order_by = plan.word_sources[0]
        text = np.concatenate([order_by.left.gather(lrows).to_numpy(), order_by.right.gather(rrows).to_numpy()])
        text = text.astype(str)
        orders.append(np.lexsort((rows, side, text)))
        reversed_text = np.array([t[::-1] for t in text.tolist()], dtype=str)
        orders.append(np.lexsort((rows, side, reversed_text)))
    else:
        # Near values are the likely pairs; np.lexsort sorts by its last key first.
        values = [np.concatenate([left[lrows], right[rrows]]) for left, right in plan.split_order]
        orders.append(np.lexsort((side, rows, *reversed(values))))
    half = SPLIT_WINDOW // 2
    windows = []
    for order in orders:
        for start in range(0, max(len(order) - half, 1), half):
            chunk = order[start : start + SPLIT_WINDOW]
            lsel = np.sort(rows[chunk][side[chunk] == 0])
            rsel = np.sort(rows[chunk][side[chunk] == 1])
            if len(lsel) and len(rsel):
                windows.append((lsel, rsel))
    return windows
