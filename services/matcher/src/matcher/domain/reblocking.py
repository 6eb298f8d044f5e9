"""Hot records: re-blocked by shared words so skewed blocks cannot blow up the candidate count.

Round amounts and subscription prices put hundreds of records in the same amount/date window; every
one of them would be scored against every other (the research note measured 15 hot amounts making
94 % of all candidates). In a pass with fuzzy comparisons, a record with more than `hot_candidates`
candidates inside a big exact block is *hot*. A pair of two hot records stays a candidate only if the
records share a word of a fuzzy-compared field that is rare in their final block; every pair with a
cold record is kept, so a record with few candidates never loses one.

Everything is decided inside one exact block (counts per final-level key), so a shard that holds the
block makes exactly the same decision as the whole job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from matcher.domain.keys import mix_keys

# Only exact blocks with at least this many final-level pairs are re-blocked: below it scoring every
# pair is cheap, and a typo that shares no word with its counterpart still gets compared.
REBLOCK_MIN_BLOCK_PAIRS = 250_000
# A (final block, word) group with more pairs than this is a common word there ("inv", "gmbh").
WORD_GROUP_MAX_PAIRS = 16
# A hot record that shares no rare word with any other hot record meets the ones this many places
# after it when its final block is sorted by the first fuzzy field, forwards and reversed: a reference
# whose only distinctive word has a typo ("INV-0042x" against "INV-0042") shares no rare word with its
# counterpart, but sorts next to it.
NEIGHBOUR_WINDOW = 1
_WORD_SEED = 0x5EED_0003


@dataclass(frozen=True)
class WordSource:
    """Normalised text of one fuzzy-compared field per row ("" where missing: no words)."""

    left: pl.Series
    right: pl.Series


@dataclass(frozen=True)
class HotRows:
    left: pl.DataFrame  # column "row"
    right: pl.DataFrame


def hot_rows(
    left: pl.DataFrame, right: pl.DataFrame, sizes: pl.DataFrame, left_block: np.ndarray, right_block: np.ndarray,
    hot_candidates: int,
) -> HotRows | None:  # fmt: skip
    """Rows of `left`/`right` (columns row, key) with more than `hot_candidates` final-level candidates
    in an exact block (ids `*_block`, indexed by row) of at least REBLOCK_MIN_BLOCK_PAIRS pairs.

    `sizes` has n_left and n_right per final-level key (keys present on both sides only)."""
    if sizes.height == 0 or sizes["pairs"].sum() < REBLOCK_MIN_BLOCK_PAIRS:
        return None
    # Both sides in one go (collect_all): each query alone leaves a core idle much of the time.
    per_left, per_right = pl.collect_all([
        _candidates_per_row(left, sizes.select("key", pl.col("n_right").alias("n"))),
        _candidates_per_row(right, sizes.select("key", pl.col("n_left").alias("n"))),
    ])  # fmt: skip
    if per_left["candidates"].max() <= hot_candidates:  # type: ignore[operator]
        return None
    per_left = per_left.with_columns(block=pl.Series(left_block[per_left["row"].to_numpy()]))
    per_right = per_right.with_columns(block=pl.Series(right_block[per_right["row"].to_numpy()]))
    block_pairs = per_left.group_by("block").agg(pl.col("candidates").sum().alias("pairs"))
    big = block_pairs.filter(pl.col("pairs") >= REBLOCK_MIN_BLOCK_PAIRS).select("block")
    if big.height == 0:
        return None
    hot_left = per_left.join(big, on="block", how="semi").filter(pl.col("candidates") > hot_candidates)
    hot_right = per_right.join(big, on="block", how="semi").filter(pl.col("candidates") > hot_candidates)
    if hot_left.height == 0 or hot_right.height == 0:
        return None
    return HotRows(hot_left.select("row"), hot_right.select("row"))


def _candidates_per_row(frame: pl.DataFrame, other_side_per_key: pl.DataFrame) -> pl.LazyFrame:
    return frame.lazy().join(other_side_per_key.lazy(), on="key").group_by("row").agg(candidates=pl.col("n").sum())


def hot_pairs(sources: list[WordSource], left: pl.DataFrame, right: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs among hot rows: a shared rare word, or, for rows that share none with anyone,
    neighbours in text order. Distinct; the caller re-checks the exact block key."""
    by_word = word_pairs(sources, left, right)
    lonely_left = left.filter(~pl.Series(_marked(by_word[0], left["row"])))
    lonely_right = right.filter(~pl.Series(_marked(by_word[1], right["row"])))
    # Disjoint from the word pairs: every pair by order has a lonely left row, which has no word pair.
    by_order = neighbour_pairs(sources[0], lonely_left, lonely_right)
    return np.concatenate([by_word[0], by_order[0]]), np.concatenate([by_word[1], by_order[1]])


def _marked(found: np.ndarray, rows: pl.Series) -> np.ndarray:
    """For each of `rows`: is it among `found`? (Row numbers are dense: a lookup table, not a sort.)"""
    row_numbers = rows.to_numpy()
    size = int(max(row_numbers.max(initial=-1), found.max(initial=-1))) + 1
    table = np.zeros(size, dtype=bool)
    table[found] = True
    marked: np.ndarray = table[row_numbers]
    return marked


def word_pairs(sources: list[WordSource], left: pl.DataFrame, right: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (left row, right row) pairs sharing a final-level key and a word that is rare there."""
    left_words = _words(sources, left, "left")
    right_words = _words(sources, right, "right")
    # (key, word) as one 64-bit group id: grouping and joining on one integer column is several times
    # cheaper than on two, and a mixed collision is as unlikely as the word hashes' own.
    # Lazy, so the two sides' group-bys run side by side.
    groups = (
        left_words.lazy().group_by("group").len("n_left")
        .join(right_words.lazy().group_by("group").len("n_right"), on="group")
        .filter(pl.col("n_left").cast(pl.Int64) * pl.col("n_right") <= WORD_GROUP_MAX_PAIRS)
        .select("group")
        .collect()
    )  # fmt: skip
    pairs = (
        left_words.join(groups, on="group", how="semi")
        .join(right_words.join(groups, on="group", how="semi"), on="group", suffix="_r")
        .select("row", "row_r")
        .unique()
    )
    return pairs["row"].to_numpy().astype(np.int64), pairs["row_r"].to_numpy().astype(np.int64)


def neighbour_pairs(source: WordSource, left: pl.DataFrame, right: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (left row, right row) pairs within NEIGHBOUR_WINDOW places of each other when both sides'
    rows of one final-level key are sorted together by the text, and again by the reversed text."""
    if left.height == 0 or right.height == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    entries = pl.concat([
        left.with_columns(side=pl.lit(0, pl.Int8), text=source.left.gather(left["row"].to_numpy())),
        right.with_columns(side=pl.lit(1, pl.Int8), text=source.right.gather(right["row"].to_numpy())),
    ])  # fmt: skip
    found_left, found_right = [], []
    for text in (pl.col("text"), pl.col("text").str.reverse()):
        ordered = entries.sort(pl.col("key"), text, pl.col("side"), pl.col("row"))
        key, side, row = (ordered[name].to_numpy() for name in ("key", "side", "row"))
        for step in range(1, NEIGHBOUR_WINDOW + 1):
            meet = (key[step:] == key[:-step]) & (side[step:] != side[:-step])
            first, second = row[:-step][meet], row[step:][meet]
            first_is_left = side[:-step][meet] == 0
            found_left.append(np.where(first_is_left, first, second))
            found_right.append(np.where(first_is_left, second, first))
    pairs = pl.DataFrame({"row": np.concatenate(found_left), "row_r": np.concatenate(found_right)}).unique()
    return pairs["row"].to_numpy().astype(np.int64), pairs["row_r"].to_numpy().astype(np.int64)


def _words(sources: list[WordSource], frame: pl.DataFrame, side: str) -> pl.DataFrame:
    """(row, group) for every word of every source field of the frame's rows, where group mixes the
    row's final-level key with the word's hash."""
    rows = frame.select("row").unique()
    row_numbers = rows["row"].to_numpy()
    parts = []
    for index, source in enumerate(sources):
        text = (source.left if side == "left" else source.right).gather(row_numbers)
        parts.append(
            pl.DataFrame({"row": rows["row"], "text": text})
            .select("row", pl.col("text").str.split(" ").alias("word"))
            .explode("word")
            .filter(pl.col("word").str.len_bytes() >= 2)
            .select("row", pl.col("word").hash(seed=_WORD_SEED + index).alias("word"))
        )
    words = pl.concat(parts).unique()
    joined = frame.join(words, on="row")
    group = mix_keys(joined["key"].to_numpy(), joined["word"].to_numpy())
    return pl.DataFrame({"row": joined["row"], "group": group})
