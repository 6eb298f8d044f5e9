"""The published workloads: which data, which systems, which baseline, which target.

Blocking recall is measured the same way for every system: the share of true links that satisfy the
candidate condition the system's blocking implements (its equi-join keys plus the tolerance window).
Systems whose blocking is exactly that condition (the DuckDB/Polars baselines, Splink's 21 rules)
reach it by construction; for our engine the measurement comes from the engine itself when it can
say which candidates it generated (see ``engine_runner``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

AMOUNT_TOLERANCE_CENTS = 1
DATE_WINDOW_DAYS = 3
AGGREGATE_WINDOW_DAYS = 5


@dataclass(frozen=True)
class Workload:
    name: str
    scenario: str
    systems: tuple[str, ...]
    baseline: str
    target: str

    def blocking_condition(self) -> pl.Expr:
        """Evaluated on true links joined with both records (right-side columns end in ``_r``)."""
        cents = (pl.col("amount") * 100).cast(pl.Int64) - (pl.col("amount_r") * 100).cast(pl.Int64)
        days = (pl.col("value_date") - pl.col("value_date_r")).dt.total_days()
        same_currency = pl.col("currency") == pl.col("currency_r")
        if self.scenario == "aggregate":
            one_to_one_amount = (pl.col("kind") != "1:1") | (cents.abs() <= AMOUNT_TOLERANCE_CENTS)
            return (same_currency & one_to_one_amount
                    & (pl.col("counterparty").str.to_lowercase() == pl.col("counterparty_r").str.to_lowercase())
                    & (days.abs() <= AGGREGATE_WINDOW_DAYS))
        window = same_currency & (cents.abs() <= AMOUNT_TOLERANCE_CENTS) & (days.abs() <= DATE_WINDOW_DAYS)
        if self.name == "exact":
            return window & (pl.col("reference") == pl.col("reference_r"))
        return window


WORKLOADS = {
    "exact": Workload(
        "exact", "clean", ("duckdb_exact", "polars_exact", "engine_exact"), "polars_exact",
        "≤ 3 s at 100 % blocking recall (1M x 1M)"),
    "fuzzy": Workload(
        "fuzzy", "dirty", ("duckdb_fuzzy", "duckdb_fuzzy_adaptive", "engine_fuzzy"), "duckdb_fuzzy",
        "≤ 6 s, P ≥ 98.5 %, R ≥ 91 %, peak RSS ≤ 1.5 GB (1M x 1M)"),
    "scale": Workload(
        "scale", "dirty", ("duckdb_fuzzy", "engine_fuzzy"), "duckdb_fuzzy",
        "≤ 12x time per 10x rows"),
    "aggregate": Workload(
        "aggregate", "aggregate", ("duckdb_aggregate", "engine_aggregate"), "duckdb_aggregate",
        "report time and precision (1M invoices x 300k payments)"),
    "splink": Workload(
        "splink", "dirty", ("splink_fuzzy", "engine_fuzzy"), "splink_fuzzy",
        "ratio to Splink at the same size"),
}


def true_links_with_records(left: pl.DataFrame, right: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    columns = ["record_id", "amount", "currency", "value_date", "reference", "counterparty"]
    return (
        truth.join(left.select(columns), left_on="left_id", right_on="record_id")
        .join(right.select(columns).rename(lambda c: c if c == "record_id" else f"{c}_r"),
              left_on="right_id", right_on="record_id")
    )


def condition_blocking_recall(workload: Workload, left: pl.DataFrame, right: pl.DataFrame,
                              truth: pl.DataFrame) -> float:
    links = true_links_with_records(left, right, truth)
    if links.is_empty():
        return 1.0
    return float(links.select(workload.blocking_condition().mean()).item())
