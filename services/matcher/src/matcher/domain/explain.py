"""Explanations rendered on demand, for any subset of the outcome (a page, a Kafka batch, a file).

A match: its pass, score, status, every comparison (values, similarity, difference, passed,
contribution, detail) and its strongest competitor. An unmatched record: the reason and its nearest
candidate with the comparisons that failed and by how much; for `no_group`, and for any record on the
single side of a grouped pass that left it unmatched, also the closest group that pass could have formed
(group_explanations.py). Schemas: ENGINE.md §1.3.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from matcher.domain.closest_group import GroupPool
from matcher.domain.comparators import prepare_pass
from matcher.domain.details import comparison_frame
from matcher.domain.group_explanations import closest_group_json
from matcher.domain.grouping import group_details
from matcher.domain.outcome import Unmatched, ids_per_match
from matcher.domain.passes import EngineContext, PassMatches
from matcher.domain.rules import RuleSet


class Explainer:
    def __init__(
        self, ctx: EngineContext, rules: RuleSet, matches: list[PassMatches], unmatched: dict[str, Unmatched],
        group_pools: list[GroupPool] | None = None,
    ) -> None:  # fmt: skip
        self._ctx = ctx
        self._pools = {pool.pass_index: pool for pool in group_pools or []}
        self._rules = rules
        self._matches = matches
        self._unmatched = unmatched
        self._match_ids: dict[str, pl.Series] | None = None

    def matches(self, frame: pl.DataFrame) -> pl.Series:
        """JSON explanation for each row of `frame` (rows of `matched`, identified by match_id)."""
        wanted = frame.select("match_id", "pass_index").with_row_index("position")
        parts = [pl.DataFrame(schema={"position": pl.UInt32, "explanation": pl.Utf8})]
        for pass_matches in self._matches:
            subset = wanted.filter(pl.col("pass_index") == pass_matches.pass_index)
            if subset.height == 0:
                continue
            local = self._local_index(pass_matches, subset["match_id"])
            parts.append(pl.DataFrame({
                "position": subset["position"],
                "explanation": self._render_matches(pass_matches, local),
            }))  # fmt: skip
        rendered = pl.concat(parts).sort("position")
        if rendered.height != frame.height:
            raise KeyError("some match_id values are not part of this outcome")
        return rendered["explanation"]

    def _local_index(self, matches: PassMatches, match_ids: pl.Series) -> np.ndarray:
        first_left = ids_per_match(self._ctx.left.ids, matches.left_rows, matches.left_match, matches.count)
        table = pl.DataFrame({"match_id": first_left.list.first(), "local": np.arange(matches.count)})
        table = table.with_columns((pl.lit(f"{matches.pass_index}:") + pl.col("match_id")).alias("match_id"))
        joined = match_ids.to_frame("match_id").join(table, on="match_id", how="left", maintain_order="left")
        if joined["local"].null_count():
            raise KeyError("some match_id values are not part of this outcome")
        return joined["local"].to_numpy().astype(np.int64)

    def _render_matches(self, matches: PassMatches, local: np.ndarray) -> pl.Series:
        ctx, pass_ = self._ctx, self._rules.passes[matches.pass_index]
        comps = prepare_pass(pass_, ctx.left, ctx.right, ctx.comparison_cache)
        if matches.kind == "one_to_one":
            details = comparison_frame(comps, matches.left_rows[local], matches.right_rows[local], workers=ctx.workers)
        else:
            details = group_details(ctx, pass_, comps, matches).select(pl.all().gather(local))
        runner_left, runner_right = matches.runner_up_left[local], matches.runner_up_right[local]
        frame = pl.DataFrame({
            "score": matches.score[local].astype(np.float64),
            "status": np.where(matches.auto[local], "auto", "review"),
            "auto": matches.auto[local], "ambiguous": matches.ambiguous[local],
            "runner_up_left": _ids_or_null(ctx.left.ids, runner_left),
            "runner_up_right": _ids_or_null(ctx.right.ids, runner_right),
            "runner_up_score": pl.Series(matches.runner_up_score[local], nan_to_null=True, dtype=pl.Float64),
            "comparisons": details["comparisons"],
        })  # fmt: skip
        reason = (
            pl.when(pl.col("ambiguous")).then(pl.lit("ambiguous"))
            .when(~pl.col("auto")).then(pl.lit("below_auto_threshold"))
        )  # fmt: skip
        runner_up = pl.when(pl.col("runner_up_score").is_not_null()).then(
            pl.struct(
                pl.col("runner_up_left").alias("left_id"), pl.col("runner_up_right").alias("right_id"),
                pl.col("runner_up_score").alias("score"),
            )
        )  # fmt: skip
        return frame.select(
            pl.struct(
                pl.lit(pass_.name).alias("pass"),
                "score",
                "status",
                reason.alias("reason"),
                "comparisons",
                runner_up.alias("runner_up"),
            ).struct.json_encode()
        ).to_series()

    def unmatched(self, side: str, frame: pl.DataFrame) -> pl.Series:
        """JSON explanation for each row of `frame` (unmatched records of `side`, by record_id)."""
        info = self._unmatched[side]
        own = self._ctx.left if side == "left" else self._ctx.right
        table = pl.DataFrame({"record_id": own.ids.gather(info.rows), "k": np.arange(len(info.rows))})
        joined = frame.select("record_id").join(table, on="record_id", how="left", maintain_order="left")
        if joined["k"].null_count():
            raise KeyError(f"some record_id values are not unmatched {side} records of this outcome")
        k = joined["k"].to_numpy().astype(np.int64)
        out = np.empty(len(k), dtype=object)
        for index in sorted(set(info.pass_index[k].tolist())):
            positions = np.flatnonzero(info.pass_index[k] == index)
            out[positions] = self._render_unmatched(side, info, k[positions], index).to_numpy()
        explanation = pl.Series("explanation", out, dtype=pl.Utf8)
        if not self._pools:
            return explanation
        # The closest group comes from a grouped pass that need not be the nearest's, so it is rendered
        # per describing pass and appended as the last key: `{...}` becomes `{...,"closest_group":{...}}`.
        closest = closest_group_json(self._ctx, self._rules, self._pools, self._unmatched, side, k)
        appended = pl.concat_str(
            pl.lit(explanation).str.head(-1), pl.lit(',"closest_group":'), pl.lit(closest), pl.lit("}")
        )  # fmt: skip
        return pl.select(pl.coalesce(appended, pl.lit(explanation))).to_series().alias("explanation")

    def _render_unmatched(self, side: str, info: Unmatched, k: np.ndarray, pass_index: int) -> pl.Series:
        reason = pl.Series(info.reason[k].astype(str), dtype=pl.Utf8)
        if pass_index < 0:
            return (
                pl.DataFrame({"reason": reason})
                .select(pl.struct("reason", pl.lit([], dtype=pl.List(pl.Null)).alias("nearest")).struct.json_encode())
                .to_series()
            )
        ctx, pass_ = self._ctx, self._rules.passes[pass_index]
        comps = prepare_pass(pass_, ctx.left, ctx.right, ctx.comparison_cache)
        own, other = info.rows[k], info.other[k]
        li, ri = (own, other) if side == "left" else (other, own)
        details = comparison_frame(comps, li, ri, workers=ctx.workers)
        other_ids = (ctx.right if side == "left" else ctx.left).ids
        other_match = self._match_id_per_row("right" if side == "left" else "left")
        frame = pl.DataFrame({
            "reason": reason, "id": other_ids.gather(other),
            "score": pl.Series(info.score[k], nan_to_null=True, dtype=pl.Float64),
            "candidate_match_id": other_match.gather(other),
            "failed": details["failed"], "comparisons": details["comparisons"],
        })  # fmt: skip
        candidate = pl.struct(
            "id", pl.lit(pass_.name).alias("pass"), "score",
            pl.when(pl.col("candidate_match_id").is_null()).then(pl.lit("unmatched"))
            .otherwise(pl.lit("matched")).alias("candidate_status"),
            "candidate_match_id", "failed", "comparisons",
        )  # fmt: skip
        nearest = pl.concat_list(candidate).alias("nearest")
        return frame.select(pl.struct("reason", nearest).struct.json_encode()).to_series()

    def _match_id_per_row(self, side: str) -> pl.Series:
        if self._match_ids is None:
            self._match_ids = {s: self._match_ids_of(s) for s in ("left", "right")}
        return self._match_ids[side]

    def _match_ids_of(self, side: str) -> pl.Series:
        height = self._ctx.left.height if side == "left" else self._ctx.right.height
        parts = [pl.DataFrame(schema={"row": pl.Int64, "match_id": pl.Utf8})]
        for m in self._matches:
            rows, match = (m.left_rows, m.left_match) if side == "left" else (m.right_rows, m.right_match)
            if len(rows) == 0:
                continue
            first_left = ids_per_match(self._ctx.left.ids, m.left_rows, m.left_match, m.count).list.first()
            parts.append(pl.select(
                row=pl.lit(rows.astype(np.int64)),
                match_id=pl.lit(f"{m.pass_index}:") + pl.lit(first_left.gather(match)),
            ))  # fmt: skip
        rows_frame = pl.DataFrame({"row": np.arange(height, dtype=np.int64)})
        return rows_frame.join(pl.concat(parts), on="row", how="left", maintain_order="left")["match_id"]


def _ids_or_null(ids: pl.Series, rows: np.ndarray) -> pl.Series:
    if ids.len() == 0:
        return pl.Series([None] * len(rows), dtype=pl.Utf8)
    gathered = ids.gather(np.where(rows >= 0, rows, 0))
    return pl.select(pl.when(pl.lit(rows >= 0)).then(pl.lit(gathered))).to_series()
