"""The engine's entry point: run the passes in order over two record sets and build the outcome."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from matcher.domain.closest_group import GroupPool
from matcher.domain.comparators import capped_in_pool, prepare_pass
from matcher.domain.explain import Explainer
from matcher.domain.grouping import run_grouped
from matcher.domain.outcome import EarlySearch, build_matched, build_unmatched, start_nearest_search, unmatched_frame
from matcher.domain.passes import EngineContext, Nearest, PassMatches, run_one_to_one
from matcher.domain.records import prepare_side
from matcher.domain.rules import RuleSet
from matcher.domain.scoring import Scored
from matcher.domain.stats import MatchStats, PassStats

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class MatchOutcome:
    matched: pl.DataFrame
    unmatched_left: pl.DataFrame
    unmatched_right: pl.DataFrame
    stats: MatchStats
    explainer: Explainer = field(repr=False, compare=False)

    def explain_matches(self, frame: pl.DataFrame | None = None) -> pl.DataFrame:
        """`frame` (default: all of `matched`) with an `explanation` JSON column (ENGINE.md §1.3)."""
        frame = self.matched if frame is None else frame
        return frame.with_columns(self.explainer.matches(frame).alias("explanation"))

    def explain_unmatched(self, side: Literal["left", "right"], frame: pl.DataFrame | None = None) -> pl.DataFrame:
        """Unmatched records of `side` (default: all) with an `explanation` JSON column."""
        if frame is None:
            frame = self.unmatched_left if side == "left" else self.unmatched_right
        return frame.with_columns(self.explainer.unmatched(side, frame).alias("explanation"))

    @property
    def auto(self) -> pl.DataFrame:
        return self.matched.filter(pl.col("status") == "auto")

    @property
    def review(self) -> pl.DataFrame:
        return self.matched.filter(pl.col("status") == "review")


def match(
    left: pl.DataFrame, right: pl.DataFrame, rules: RuleSet, *, progress: Progress | None = None,
    workers: int | None = None,
) -> MatchOutcome:  # fmt: skip
    """Match two canonical record sets with a rule set (see ENGINE.md for schemas and semantics)."""
    started = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    ctx = EngineContext(
        left=prepare_side(left, "left"),
        right=prepare_side(right, "right"),
        workers=workers or min(os.cpu_count() or 1, 4),
    )
    stats = MatchStats(left_records=ctx.left.height, right_records=ctx.right.height)
    left_free = np.ones(ctx.left.height, dtype=bool)
    right_free = np.ones(ctx.right.height, dtype=bool)
    all_matches: list[PassMatches] = []
    all_nearest: list[Nearest] = []
    group_pools: list[GroupPool] = []
    early: EarlySearch | None = None
    steps = len(rules.passes) + 1
    # One background thread: the unmatched records' nearest-candidate search starts as soon as the last
    # pass has scored its pairs and runs while that pass assigns (outcome.start_nearest_search).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nearest-search") as background:

        def search_early(last_pass_pairs: Scored) -> None:
            nonlocal early
            early = start_nearest_search(
                ctx, rules, background, list(all_nearest), left_free, right_free, last_pass_pairs)  # fmt: skip

        for index, pass_ in enumerate(rules.passes):
            label = f"pass {index + 1}/{len(rules.passes)}: {pass_.name}"
            report(index / steps, label)

            def stage(share: float, message: str, index: int = index, label: str = label) -> None:
                report((index + share) / steps, f"{label}: {message}")

            clock = time.perf_counter()
            pass_stats = PassStats(name=pass_.name, cardinality=pass_.cardinality)
            pass_stats.left_pool, pass_stats.right_pool = int(left_free.sum()), int(right_free.sum())
            comps = prepare_pass(pass_, ctx.left, ctx.right, ctx.comparison_cache)
            pass_stats.references_capped_left = capped_in_pool(comps, "left", left_free)
            pass_stats.references_capped_right = capped_in_pool(comps, "right", right_free)
            pass_stats.seconds["prepare"] = round(time.perf_counter() - clock, 4)
            if pass_.cardinality == "one_to_one":
                last = index == len(rules.passes) - 1
                matches, nearest = run_one_to_one(
                    ctx, index, pass_, comps, left_free, right_free, pass_stats,
                    on_scored=search_early if last else None, on_stage=stage,
                )  # fmt: skip
            else:
                matches, nearest, pool = run_grouped(
                    ctx, index, pass_, comps, left_free, right_free, pass_stats, on_stage=stage
                )
                group_pools.append(pool)
            left_free[matches.left_rows] = False
            right_free[matches.right_rows] = False
            pass_stats.auto = int(matches.auto.sum())
            pass_stats.review = matches.count - pass_stats.auto
            pass_stats.ambiguous = int(matches.ambiguous.sum())
            pass_stats.seconds["total"] = round(time.perf_counter() - clock, 4)
            stats.passes.append(pass_stats)
            all_matches.append(matches)
            all_nearest.append(nearest)

        report(len(rules.passes) / steps, "collecting results")
        clock = time.perf_counter()
        matched = build_matched(ctx, rules, all_matches)
        left_info, right_info = build_unmatched(ctx, rules, all_nearest, left_free, right_free, early)
    unmatched_left = unmatched_frame(ctx, rules, "left", left_info)
    unmatched_right = unmatched_frame(ctx, rules, "right", right_info)
    explainer = Explainer(ctx, rules, all_matches, {"left": left_info, "right": right_info}, group_pools)
    stats.seconds["results"] = round(time.perf_counter() - clock, 4)

    stats.matched_left = int((~left_free).sum())
    stats.matched_right = int((~right_free).sum())
    stats.auto_matches = sum(p.auto for p in stats.passes)
    stats.review_matches = sum(p.review for p in stats.passes)
    stats.unmatched_left = unmatched_left.height
    stats.unmatched_right = unmatched_right.height
    stats.seconds["total"] = round(time.perf_counter() - started, 4)
    report(1.0, "done")
    return MatchOutcome(matched, unmatched_left, unmatched_right, stats, explainer)
