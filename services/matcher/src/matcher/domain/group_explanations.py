"""The `closest_group` part of an unmatched record's explanation (ENGINE.md §1.3): which records the
closest group a grouped pass could have formed holds, their sum, how far it is from the record's amount
and the tolerance, or why no group was possible at all.

Which records get one, and from which grouped pass (`describing_pass`):
* a `no_group` record (either side): the grouped pass named as its nearest, as that pass explains it;
* any other record on the single side of a grouped pass that left it unmatched (it is in the pass's
  `GroupPool`), whatever its reason and wherever its nearest candidate came from: the common rule set
  tries one-to-one first, whose "amount off by 150.00" would otherwise hide a group 0.50 short. If
  several grouped passes left it out, the first in rule order: one search per record, deterministic,
  and the earliest pass had the most records still free.

A record on the single side gets its own closest group. A record on the "many" side (one member of
a possible group) gets the closest group of the single record named as its nearest candidate
(`for_id`), which may or may not include it: searching every group a member could have joined
would cost far more than the explanation is worth.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from matcher.domain.closest_group import GroupPool, closest_groups
from matcher.domain.comparators import Prepared, prepare_pass
from matcher.domain.details import comparison_frame
from matcher.domain.grouping import format_units, totals_comparison
from matcher.domain.outcome import Unmatched
from matcher.domain.passes import EngineContext, sum_comparison_index
from matcher.domain.rules import Pass, RuleSet


def describing_pass(
    pools: dict[int, GroupPool], side: str, rows: np.ndarray, reason: np.ndarray, nearest_pass: np.ndarray
) -> np.ndarray:
    """Per record (`rows` of `side`), the grouped pass whose closest group its explanation shows, -1: none."""
    chosen = np.where((reason == "no_group") & np.isin(nearest_pass, list(pools)), nearest_pass, -1)
    for index in sorted(pools):  # rule order: the first grouped pass that left the record out wins
        pool = pools[index]
        if (side == "left") == pool.single_is_left:
            chosen = np.where((chosen < 0) & pool.holds(rows), index, chosen)
    return chosen.astype(np.int64)


def closest_group_json(
    ctx: EngineContext, rules: RuleSet, pools: dict[int, GroupPool], unmatched: dict[str, Unmatched], side: str,
    k: np.ndarray,
) -> pl.Series:  # fmt: skip
    """The `closest_group` JSON object of each unmatched record `unmatched[side]` position `k`, null when
    its explanation has none. One batched search per describing pass."""
    info = unmatched[side]
    own, other = info.rows[k], info.other[k]
    chosen = describing_pass(pools, side, own, info.reason[k], info.pass_index[k])
    out = pl.Series("closest_group", [None] * len(k), dtype=pl.Utf8)
    for index in np.unique(chosen[chosen >= 0]).tolist():
        positions = np.flatnonzero(chosen == index)
        pass_, pool = rules.passes[index], pools[index]
        comps = prepare_pass(pass_, ctx.left, ctx.right, ctx.comparison_cache)
        single_side = "left" if pool.single_is_left else "right"
        column = closest_group_column(
            ctx, pass_, comps, pool, side, own[positions], other[positions], unmatched[single_side].rows
        )
        out = out.scatter(positions, column.to_frame().select(pl.col("closest_group").struct.json_encode()).to_series())
    return out


def closest_group_column(
    ctx: EngineContext, pass_: Pass, comps: list[Prepared], pool: GroupPool, side: str, own: np.ndarray,
    other: np.ndarray, unmatched_singles: np.ndarray,
) -> pl.Series:  # fmt: skip
    """One `closest_group` struct per record (`own` rows of `side`, `other` their nearest candidates).
    `unmatched_singles`: the single side's unmatched rows, sorted; any other single record is matched."""
    record_is_single = (side == "left") == pool.single_is_left
    singles, inverse = np.unique(own if record_is_single else other, return_inverse=True)
    amount = comps[sum_comparison_index(pass_)]
    single_amounts, member_amounts = (amount.left, amount.right) if pool.single_is_left else (amount.right, amount.left)
    single_ids = (ctx.left if pool.single_is_left else ctx.right).ids
    member_ids = (ctx.right if pool.single_is_left else ctx.left).ids
    matched = ~np.isin(singles, unmatched_singles)
    members = closest_groups(pool, singles, single_amounts, member_amounts)
    with_group = np.flatnonzero([len(m) > 0 for m in members])
    group_members = [members[i] for i in with_group.tolist()]
    group_sizes = np.array([len(m) for m in group_members], dtype=np.int64)
    flat = np.concatenate(group_members) if group_members else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(with_group)), group_sizes)
    numeric = [c for c in comps if c.kind == "numeric"]
    totals = []
    for comp in numeric:
        single_values, member_values = (comp.left, comp.right) if pool.single_is_left else (comp.right, comp.left)
        sums = np.zeros(len(with_group), dtype=np.int64)
        np.add.at(sums, owner, member_values[flat])
        totals.append(totals_comparison(comp, pool.single_is_left, single_values[singles[with_group]], sums))
    described = comparison_frame(totals, np.arange(len(with_group)), np.arange(len(with_group)))["comparisons"]
    amount_position = next(i for i, c in enumerate(numeric) if c is amount)
    group_sum = totals[amount_position].right if pool.single_is_left else totals[amount_position].left
    found = pl.DataFrame(
        {
            "u": with_group,
            "ids": _ids_per_group(member_ids, flat, owner),
            "size": group_sizes,
            "sum": format_units(group_sum, amount.scale),
            "difference": np.abs(group_sum - single_amounts[singles[with_group]]) / 10**amount.scale,
            "comparisons": described,
        }
    ).with_columns(amount_detail=pl.col("comparisons").list.get(amount_position).struct.field("detail"))
    per_single = pl.DataFrame({
        "u": np.arange(len(singles)), "for_id": single_ids.gather(singles),
        "amount": format_units(single_amounts[singles], amount.scale), "available": pool.available(singles),
        "matched": matched,
    }).join(found, on="u", how="left", maintain_order="left")  # fmt: skip
    table = per_single.select(
        pl.struct(
            pl.lit(pass_.name).alias("pass"), "for_id", pl.col("ids").fill_null([]), "sum", "amount", "difference",
            "available", pl.col("comparisons").fill_null([]), _detail(pool, record_is_single).alias("detail"),
        ).alias("closest_group")
    )  # fmt: skip
    return table["closest_group"].gather(inverse)


def _ids_per_group(ids: pl.Series, flat: np.ndarray, owner: np.ndarray) -> pl.Series:
    """Member ids per group (`flat` rows in group order, sorted within each group, so ids are too)."""
    frame = pl.DataFrame({"owner": owner, "id": ids.gather(flat)}, schema={"owner": pl.Int64, "id": pl.Utf8})
    return frame.group_by("owner", maintain_order=True).agg("id")["id"]


def _detail(pool: GroupPool, record_is_single: bool) -> pl.Expr:
    """The sentence: how close the closest group came, or why there was none."""
    records = pl.when(pl.col("size") == 1).then(pl.lit(" record")).otherwise(pl.lit(" records"))
    found = pl.concat_str(
        pl.lit("closest group: "), pl.col("size").cast(pl.Utf8), records, pl.lit(" summing to "), pl.col("sum"),
        pl.lit(", "), pl.col("amount_detail"),
    )  # fmt: skip
    bounds = f"{pool.min_size}" if pool.min_size == pool.max_size else f"{pool.min_size} to {pool.max_size}"
    if pool.by_key:
        none = pl.lit(
            f"no group possible: no group of at least {pool.min_size} records sharing the group key, every one "
            "passing the member filters, was still available"
        )
    else:
        available = pl.col("available").cast(pl.Utf8)
        none = (
            pl.when(pl.col("available") == 0)
            .then(pl.lit("no group possible: no candidate passing the member filters was still available"))
            .otherwise(pl.concat_str(
                pl.lit("no group possible: only "), available, pl.lit(" candidate(s) still available, a group needs "),
                pl.lit(bounds),
            ))
        )  # fmt: skip
    matched = pl.lit("no group, it is already matched")
    sentence = pl.when(pl.col("matched")).then(matched).when(pl.col("size").is_not_null()).then(found).otherwise(none)
    # A member's explanation borrows its nearest single record's closest group: say whose it is.
    return sentence if record_is_single else pl.concat_str(pl.lit("for "), pl.col("for_id"), pl.lit(": "), sentence)
