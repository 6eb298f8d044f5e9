"""The fuzzy bank-vs-ledger workload in Splink 5 (DuckDB backend), as close to our rules as Splink allows.

* Blocking: the same candidate set as our rules and the DuckDB baseline — same currency, amount
  within ±1 cent, value date within ±3 days — written as 21 strict equi-join rules (3 amount shifts x
  7 date shifts), which is what Splink's docs recommend over OR or range conditions.
* Comparisons: Jaro-Winkler levels on the lower-cased reference and counterparty, exact/not exact on
  the amount, 0/1/3-day levels on the value date.
* Training, seeded: λ from a deterministic rule (same reference and amount, recall assumed 0.6),
  u by random sampling (``max_pairs`` below, seed 42), m by EM on two blocking rules.
* Prediction above ``MATCH_PROBABILITY`` (chosen by ``tune_thresholds.py``), then Splink's own 1:1 resolution
  (``cluster_using_single_best_links`` with both datasets duplicate-free; ties dropped).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import duckdb
import polars as pl
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from system_run import SystemRun

MATCH_PROBABILITY = 0.005  # chosen by tune_thresholds.py like the engine's threshold (seed 777 data)
U_MAX_PAIRS = 2e6
SEED = 42
AMOUNT_SHIFTS = (-1, 0, 1)
DATE_SHIFTS = tuple(range(-3, 4))


def _prepared(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "record_id", "currency",
        pl.col("reference").str.to_lowercase().alias("ref"),
        pl.col("counterparty").str.to_lowercase().alias("party"),
        (pl.col("amount") * 100).cast(pl.Int64).alias("cents"),
        "value_date",
    )


def blocking_rules() -> list[BlockingRuleCreator | dict[str, Any]]:
    return [
        {"blocking_rule": f"l.currency = r.currency AND l.cents = r.cents + ({da}) "
                          f"AND l.value_date = r.value_date + ({dd})"}
        for da in AMOUNT_SHIFTS for dd in DATE_SHIFTS
    ]


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="record_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("ref", [0.95, 0.88, 0.75]),
            cl.JaroWinklerAtThresholds("party", [0.95, 0.88, 0.75]),
            cl.ExactMatch("cents"),
            cl.AbsoluteDateDifferenceAtThresholds("value_date", input_is_string=False,
                                                  metrics=["day", "day"], thresholds=[1, 3]),
        ],
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def splink_fuzzy(left: pl.DataFrame, right: pl.DataFrame) -> SystemRun:
    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    connection = duckdb.connect(config={"threads": 2})
    connection.execute("SET enable_progress_bar = false")
    db_api = DuckDBAPI(connection)
    bank = db_api.register(_prepared(left).to_arrow(), dataset_display_name="bank")
    ledger = db_api.register(_prepared(right).to_arrow(), dataset_display_name="ledger")
    linker = Linker([bank, ledger], _settings(), log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("ref", "cents")], recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("cents", "value_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("ref"))
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=MATCH_PROBABILITY,
                                           warning_mode="never")
    predicted = time.perf_counter()
    clusters = linker.clustering.cluster_using_single_best_links(
        predictions, duplicate_free_datasets=["bank", "ledger"],
        threshold_match_probability=MATCH_PROBABILITY, ties_method="drop",
    ).as_duckdbpyrelation().pl()
    members = clusters.select("cluster_id", "record_id", "source_dataset")
    pairs = (
        members.filter(pl.col("source_dataset") == "bank").select("cluster_id", left_id="record_id")
        .join(members.filter(pl.col("source_dataset") == "ledger")
              .select("cluster_id", right_id="record_id"), on="cluster_id")
        .select("left_id", "right_id")
    )
    finished = time.perf_counter()
    scored = predictions.as_duckdbpyrelation().count("*").fetchall()[0]
    return SystemRun(
        pairs, None,
        {"train": trained - started, "predict": predicted - trained, "one_to_one": finished - predicted},
        details={"pairs_above_threshold": scored[0] if scored else None,
                 "match_probability_threshold": MATCH_PROBABILITY, "u_max_pairs": U_MAX_PAIRS},
    )
