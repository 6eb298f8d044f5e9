"""The benchmark generators (bench/matching/datagen.py) produce what their truth tables claim."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "bench" / "matching"))

import datagen  # noqa: E402
import text_noise  # noqa: E402

ROWS = 4_000


@pytest.fixture(scope="module")
def clean() -> datagen.MatchingDataset:
    return datagen.generate("clean", ROWS, seed=7)


@pytest.fixture(scope="module")
def dirty() -> datagen.MatchingDataset:
    return datagen.generate("dirty", ROWS, seed=7)


@pytest.fixture(scope="module")
def aggregate() -> datagen.MatchingDataset:
    return datagen.generate("aggregate", ROWS, seed=7)


def share(mask: pl.Series) -> float:
    """Fraction of true values (polars' ``mean`` is typed as any scalar, which mypy cannot compare)."""
    return float(mask.cast(pl.Float64).sum()) / mask.len()


def linked(dataset: datagen.MatchingDataset) -> pl.DataFrame:
    links: pl.DataFrame = (
        dataset.truth.join(dataset.left, left_on="left_id", right_on="record_id")
        .join(dataset.right, left_on="right_id", right_on="record_id", suffix="_r")
        .with_columns(
            ((pl.col("amount") - pl.col("amount_r")) * 100).cast(pl.Int64).alias("cents_diff"),
            (pl.col("value_date") - pl.col("value_date_r")).dt.total_days().alias("day_diff"),
        )
    )
    return links


@pytest.mark.parametrize("scenario", datagen.SCENARIOS)
def test_frames_use_the_canonical_schema(scenario: str) -> None:
    dataset = datagen.generate(scenario, 1_000, seed=1)
    for frame in (dataset.left, dataset.right):
        assert tuple(frame.columns) == datagen.CANONICAL_COLUMNS
        assert frame.schema["amount"] == pl.Decimal(18, 2)
        assert frame.schema["value_date"] == pl.Date
        assert frame.schema["booking_date"] == pl.Date
        assert frame["record_id"].is_unique().all()
        assert frame.null_count().sum_horizontal().item() == 0
    assert dataset.truth.columns == ["left_id", "right_id", "kind", "group_id"]


@pytest.mark.parametrize("scenario", datagen.SCENARIOS)
def test_same_seed_gives_identical_data_and_another_seed_does_not(scenario: str) -> None:
    first, again, other = (datagen.generate(scenario, 1_500, seed=s) for s in (3, 3, 4))
    for name in ("left", "right", "truth"):
        assert getattr(first, name).equals(getattr(again, name))
    assert not first.left.equals(other.left)


def test_clean_pairs_share_the_reference_and_stay_inside_the_tolerances(clean: datagen.MatchingDataset) -> None:
    pairs = linked(clean)
    assert (pairs["reference"] == pairs["reference_r"]).all()
    assert (pairs["counterparty"] == pairs["counterparty_r"]).all()
    assert (pairs["cents_diff"].abs() <= 1).all()
    assert pairs["day_diff"].is_between(0, 3).all()
    assert 0.10 < share(pairs["cents_diff"] != 0) < 0.20  # the 15 % amount drift


def test_clean_has_five_percent_missing_counterparts_on_each_side(clean: datagen.MatchingDataset) -> None:
    assert clean.truth.height == ROWS - round(0.05 * ROWS)
    assert clean.truth["left_id"].is_unique().all()
    assert clean.truth["right_id"].is_unique().all()


def test_dirty_references_are_corrupted_but_pairs_stay_inside_the_window(dirty: datagen.MatchingDataset) -> None:
    pairs = linked(dirty)
    assert (pairs["cents_diff"].abs() <= 1).all()
    assert pairs["day_diff"].is_between(0, 3).all()
    identical = share(pairs["reference"] == pairs["reference_r"])
    assert 0.25 < identical < 0.6
    case_only = share(pairs["reference"].str.to_uppercase() == pairs["reference_r"])
    assert case_only > identical
    assert share(pairs["reference"].str.contains(r"(?i)^(SEPA CT|FPS|TRF|CARD|SCT REF|PAYMENT|BACS) ")) > 0.15
    assert 0.3 < share(pairs["counterparty"] != pairs["counterparty_r"]) < 0.75


def test_dirty_contains_duplicated_rows_without_a_true_link(dirty: datagen.MatchingDataset) -> None:
    content = ["amount", "currency", "value_date", "reference", "counterparty"]
    for side, id_column in ((dirty.left, "left_id"), (dirty.right, "right_id")):
        duplicated = side.filter(side.select(content).is_duplicated())
        assert duplicated.height >= 2 * round(0.005 * ROWS) * 0.9
        assert duplicated.join(dirty.truth, left_on="record_id", right_on=id_column, how="anti").height > 0
    assert dirty.truth.height == ROWS - round(0.05 * ROWS) - round(0.005 * ROWS)


def test_amounts_are_skewed_towards_a_few_hot_values(dirty: datagen.MatchingDataset) -> None:
    counts = dirty.right["amount"].value_counts(sort=True)
    top_fifteen_share = counts.head(15)["count"].sum() / dirty.right.height
    assert 0.12 < top_fifteen_share < 0.20
    assert (dirty.right["amount"] > 0).all()


def test_aggregate_groups_sum_to_their_payment(aggregate: datagen.MatchingDataset) -> None:
    payments = aggregate.right.height
    assert payments == round(0.3 * ROWS)
    members = linked(aggregate)
    groups = members.group_by("right_id").agg(
        pl.len().alias("size"),
        (pl.col("amount").sum() - pl.col("amount_r").first()).alias("difference"),
        pl.col("day_diff").abs().max().alias("max_days"),
        (pl.col("counterparty").str.to_lowercase() == pl.col("counterparty_r").str.to_lowercase())
        .all()
        .alias("same_party"),
        pl.col("kind").first(),
    )
    assert groups.height == payments
    assert groups["size"].is_between(1, 5).all()
    assert (groups.filter(pl.col("size") > 1)["kind"] == "N:1").all()
    assert (groups.filter(pl.col("size") == 1)["kind"] == "1:1").all()
    assert share(groups["size"] > 1) == pytest.approx(0.2, abs=0.005)
    assert (groups["difference"].cast(pl.Float64).abs() <= 0.01 + 1e-9).all()
    assert (groups["max_days"] <= 5).all()
    assert groups["same_party"].all()
    assert aggregate.truth["left_id"].is_unique().all()


def test_aggregate_refuses_more_settled_invoices_than_exist() -> None:
    with pytest.raises(ValueError, match="settle"):
        datagen.invoices_vs_payments(100, 90, seed=1)


def test_unknown_scenario_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        datagen.generate("messy", 10)


def test_unique_numbers_are_distinct_and_bounded() -> None:
    numbers = text_noise.unique_numbers(0, 100_000, digits=6)
    assert len(set(numbers.tolist())) == 100_000
    assert numbers.max() < 10**6
    with pytest.raises(ValueError, match="distinct"):
        text_noise.unique_numbers(999_990, 20, digits=6)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    dataset = datagen.generate("dirty", 500, seed=2)
    dataset.save(tmp_path / "d")
    loaded = datagen.MatchingDataset.load(tmp_path / "d")
    assert loaded.left.equals(dataset.left)
    assert loaded.right.equals(dataset.right)
    assert loaded.truth.equals(dataset.truth)
