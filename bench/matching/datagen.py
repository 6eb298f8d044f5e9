"""Seeded matching datasets with known truth, in the canonical record schema.

Scenarios (left / right):

* ``clean``     bank lines / ledger entries: identical references and counterparties, amount drift of
                one cent on 15 % of pairs, bank value date 0-3 days after the ledger date, 5 % of each
                side without a counterpart.
* ``dirty``     the same pairs with corrupted bank references (typos, transposed digits, truncation,
                bank prefixes, case) and counterparty variants, plus 0.5 % duplicated rows per side.
* ``aggregate`` invoices / payments: 80 % of payments settle one invoice, 20 % settle 2-5 invoices of
                the same counterparty dated within 5 days of the payment; the sum is exact or one cent
                off; the remaining invoices are open.

Amounts are skewed like real statements (10 % on ten round amounts, 5 % on five subscription prices,
the rest lognormal), which makes amount/date blocks hot. The truth table has one row per true link:
``left_id``, ``right_id``, ``kind`` ("1:1" or "N:1") and ``group_id`` (the right record of an N:1).

Command line: ``uv run python bench/matching/datagen.py dirty --rows 100000 --out /tmp/dirty``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import text_noise as noise

CANONICAL_COLUMNS = ("record_id", "external_id", "amount", "currency", "value_date", "booking_date",
                     "reference", "counterparty", "description")
AMOUNT_DTYPE = pl.Decimal(18, 2)
ROUND_AMOUNTS_CENTS = np.array([1000, 2000, 2500, 5000, 10000, 15000, 20000, 25000, 50000, 100000])
SUBSCRIPTION_CENTS = np.array([999, 1499, 1999, 2999, 4999])
CURRENCIES = ("EUR", "USD", "GBP")
CURRENCY_WEIGHTS = [0.85, 0.10, 0.05]
FIRST_DAY = dt.date(2024, 1, 1)
SCENARIOS = ("clean", "dirty", "aggregate")


@dataclass(frozen=True)
class MatchingDataset:
    scenario: str
    seed: int
    left: pl.DataFrame
    right: pl.DataFrame
    truth: pl.DataFrame

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("left", "right", "truth"):
            getattr(self, name).write_parquet(directory / f"{name}.parquet")

    @classmethod
    def load(cls, directory: Path, scenario: str = "", seed: int = -1) -> MatchingDataset:
        return cls(scenario, seed, *(pl.read_parquet(directory / f"{n}.parquet")
                                     for n in ("left", "right", "truth")))


def skewed_amount_cents(rng: np.random.Generator, count: int, median: float = 80.0) -> np.ndarray:
    """Lognormal amounts with 10 % round amounts and 5 % subscription prices (the hot blocks)."""
    cents = np.maximum(np.rint(rng.lognormal(np.log(median), 1.1, count) * 100), 1).astype(np.int64)
    draw = rng.random(count)
    hot_round = draw < 0.10
    subscription = (draw >= 0.10) & (draw < 0.15)
    cents[hot_round] = rng.choice(ROUND_AMOUNTS_CENTS, int(hot_round.sum()))
    cents[subscription] = rng.choice(SUBSCRIPTION_CENTS, int(subscription.sum()))
    return cents


def _cents_to_amount(cents: pl.Expr) -> pl.Expr:
    return (cents.cast(AMOUNT_DTYPE) * pl.lit(Decimal("0.01"))).cast(AMOUNT_DTYPE)


def _base_records(rng: np.random.Generator, count: int, reference_position: int,
                  counterparties: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({
        "amount_cents": skewed_amount_cents(rng, count),
        "currency": noise.pick(rng, CURRENCIES, count, CURRENCY_WEIGHTS),
        "day": rng.integers(0, 366, count),
        "reference": noise.ledger_references(rng, count, reference_position),
        "counterparty": counterparties.gather(rng.integers(0, len(counterparties), count)),
    })


def _finish(frame: pl.DataFrame, rng: np.random.Generator, id_prefix: str,
            external_prefix: str, description: pl.Expr) -> pl.DataFrame:
    """Shuffle, give ids that reveal nothing about the truth, and cast to the canonical schema."""
    count = frame.height
    return (
        frame[rng.permutation(count)]
        .with_columns(
            pl.format("{}{}", pl.lit(id_prefix), pl.int_range(pl.len()).cast(pl.Utf8).str.zfill(8))
            .alias("record_id"),
            pl.format("{}{}", pl.lit(external_prefix),
                      pl.Series(noise.unique_numbers(0, count, 10)).cast(pl.Utf8).str.zfill(10))
            .alias("external_id"),
            _cents_to_amount(pl.col("amount_cents")).alias("amount"),
            (pl.lit(FIRST_DAY) + pl.duration(days=pl.col("day"))).cast(pl.Date).alias("value_date"),
            (pl.lit(FIRST_DAY) + pl.duration(days=pl.col("day") + pl.col("booking_lag")))
            .cast(pl.Date).alias("booking_date"),
            description.alias("description"),
        )
        .select((*CANONICAL_COLUMNS, "_key"))
    )


def _corrupt_references(rng: np.random.Generator, references: pl.Series) -> pl.Series:
    rows = np.arange(len(references))
    groups = noise.disjoint_row_groups(rng, rows, {
        "typo": 0.12, "transposed": 0.10, "truncated": 0.08, "prefixed": 0.15, "prefixed_truncated": 0.05,
    })
    refs = noise.substitute_char(references, groups["typo"], rng, noise.REFERENCE_ALPHABET)
    refs = noise.transpose_trailing_digits(refs, groups["transposed"], rng)
    refs = noise.drop_tail(refs, groups["truncated"], rng, drop_min=2, drop_max=5)
    refs = noise.add_bank_prefix(refs, groups["prefixed"], rng)
    refs = noise.drop_tail(refs, groups["prefixed_truncated"], rng, drop_min=2, drop_max=5)
    refs = noise.add_bank_prefix(refs, groups["prefixed_truncated"], rng)
    return noise.lowercase(refs, np.flatnonzero(rng.random(len(refs)) < 0.25))


def _corrupt_counterparties(rng: np.random.Generator, names: pl.Series) -> pl.Series:
    rows = np.arange(len(names))
    groups = noise.disjoint_row_groups(rng, rows, {
        "upper": 0.20, "no_suffix": 0.15, "typo": 0.10, "truncated": 0.10, "swapped": 0.05,
    })
    names = noise.uppercase(names, groups["upper"])
    names = noise.drop_legal_suffix(names, groups["no_suffix"])
    names = noise.substitute_char(names, groups["typo"], rng, noise.NAME_ALPHABET)
    names = noise.truncate(names, groups["truncated"], rng, keep_min=12, keep_max=16)
    return noise.swap_first_two_tokens(names, groups["swapped"])


def bank_vs_ledger(rows_per_side: int, *, dirty: bool, seed: int = 12345,
                   missing_share: float = 0.05, duplicate_share: float = 0.005) -> MatchingDataset:
    """Bank lines (left) against ledger entries (right), ``rows_per_side`` rows on each side."""
    rng = np.random.default_rng(seed)
    missing = round(rows_per_side * missing_share)
    duplicates = round(rows_per_side * duplicate_share) if dirty else 0
    paired = rows_per_side - missing - duplicates
    if paired <= 0:
        raise ValueError(f"rows_per_side={rows_per_side} leaves no matched pairs")
    counterparties = noise.counterparty_pool(rng, max(200, rows_per_side // 20))

    ledger_core = _base_records(rng, paired + missing, 0, counterparties)
    ledger_core = ledger_core.with_columns(pl.int_range(pl.len()).alias("_key"),
                                           pl.lit(0, dtype=pl.Int64).alias("booking_lag"))
    bank_paired = ledger_core.head(paired)
    drift = np.where(rng.random(paired) < 0.15, rng.choice([-1, 1], paired), 0)
    lag = rng.choice(4, paired, p=[0.4, 0.3, 0.2, 0.1])
    references, names = bank_paired["reference"], bank_paired["counterparty"]
    if dirty:
        references = _corrupt_references(rng, references)
        names = _corrupt_counterparties(rng, names)
    bank_paired = bank_paired.with_columns(
        pl.col("amount_cents") + drift, pl.col("day") + lag, references, names,
        pl.Series("booking_lag", rng.integers(0, 2, paired)),
    )
    bank_only = _base_records(rng, missing, paired + missing, counterparties).with_columns(
        pl.lit(-1, dtype=pl.Int64).alias("_key"), pl.lit(0, dtype=pl.Int64).alias("booking_lag"))
    bank = pl.concat([bank_paired, bank_only], how="diagonal_relaxed")
    if duplicates:
        ledger_core = pl.concat([ledger_core, ledger_core.head(paired).sample(duplicates, seed=seed)
                                 .with_columns(pl.lit(-1, dtype=pl.Int64).alias("_key"))])
        bank = pl.concat([bank, bank.head(paired).sample(duplicates, seed=seed + 1)
                          .with_columns(pl.lit(-1, dtype=pl.Int64).alias("_key"))])

    ledger = _finish(ledger_core, rng, "L", "GL", pl.format("Invoice {} {}", "reference", "counterparty"))
    bank = _finish(bank, rng, "B", "BNK", pl.format("{} {}", "counterparty", "reference"))
    truth = (
        bank.filter(pl.col("_key") >= 0).select(pl.col("record_id").alias("left_id"), "_key")
        .join(ledger.filter(pl.col("_key") >= 0).select(pl.col("record_id").alias("right_id"), "_key"),
              on="_key")
        .select("left_id", "right_id", pl.lit("1:1").alias("kind"), pl.col("left_id").alias("group_id"))
        .sort("left_id")
    )
    return MatchingDataset("dirty" if dirty else "clean", seed, bank.drop("_key"), ledger.drop("_key"),
                           truth)


def invoices_vs_payments(invoices: int, payments: int, *, seed: int = 12345,
                         multi_share: float = 0.20, max_group: int = 5) -> MatchingDataset:
    """Invoices (left) against payments (right); 20 % of payments settle 2..max_group invoices."""
    rng = np.random.default_rng(seed)
    multi = round(payments * multi_share)
    group_sizes = np.concatenate([np.ones(payments - multi, np.int64), rng.integers(2, max_group + 1, multi)])
    settled = int(group_sizes.sum())
    if settled > invoices:
        raise ValueError(f"{payments} payments settle {settled} invoices but only {invoices} exist")
    customers = noise.counterparty_pool(rng, max(200, invoices // 20))

    payment_customer = rng.integers(0, len(customers), payments)
    payment_day = rng.integers(5, 361, payments)
    payment_currency = rng.choice(len(CURRENCIES), payments, p=CURRENCY_WEIGHTS)
    owner = np.repeat(np.arange(payments), group_sizes)
    open_count = invoices - settled
    invoice = pl.DataFrame({
        "amount_cents": skewed_amount_cents(rng, invoices, median=250.0),
        "currency": pl.Series(CURRENCIES).gather(np.concatenate(
            [payment_currency[owner], rng.choice(len(CURRENCIES), open_count, p=CURRENCY_WEIGHTS)])),
        "day": np.concatenate([payment_day[owner] + rng.integers(-5, 6, settled),
                               rng.integers(0, 366, open_count)]),
        "reference": noise.ledger_references(rng, invoices, 0),
        "counterparty": customers.gather(np.concatenate([payment_customer[owner],
                                                         rng.integers(0, len(customers), open_count)])),
        "_key": np.concatenate([owner, np.full(open_count, -1)]),
        "booking_lag": np.zeros(invoices, np.int64),
    })
    settled_invoices = invoice.head(settled)
    sums = settled_invoices.group_by("_key").agg(pl.col("amount_cents").sum(),
                                                pl.col("reference").first()).sort("_key")
    drift = np.where(rng.random(payments) < 0.10, rng.choice([-1, 1], payments), 0)
    is_multi = group_sizes > 1
    single_refs = noise.add_bank_prefix(sums["reference"], np.flatnonzero(rng.random(payments) < 0.3), rng)
    payment = pl.DataFrame({
        "amount_cents": sums["amount_cents"].to_numpy() + drift,
        "currency": pl.Series(CURRENCIES).gather(payment_currency),
        "day": payment_day,
        "reference": pl.select(pl.when(pl.lit(pl.Series(is_multi)))
                               .then(pl.concat_str(pl.lit("BATCH "), pl.lit(sums["reference"]), pl.lit(" ETC")))
                               .otherwise(pl.lit(single_refs))).to_series(),
        "counterparty": noise.uppercase(customers.gather(payment_customer),
                                        np.flatnonzero(rng.random(payments) < 0.3)),
        "_key": np.arange(payments),
        "booking_lag": rng.integers(0, 2, payments),
    })
    invoice = _finish(invoice, rng, "I", "AR", pl.format("Invoice {} to {}", "reference", "counterparty"))
    payment = _finish(payment, rng, "P", "BNK", pl.format("{} {}", "counterparty", "reference"))
    payment_ids = payment.select(pl.col("record_id").alias("right_id"), "_key")
    truth = (
        invoice.filter(pl.col("_key") >= 0).select(pl.col("record_id").alias("left_id"), "_key")
        .join(payment_ids, on="_key")
        .with_columns(pl.len().over("_key").alias("size"))
        .select("left_id", "right_id",
                pl.when(pl.col("size") > 1).then(pl.lit("N:1")).otherwise(pl.lit("1:1")).alias("kind"),
                pl.col("right_id").alias("group_id"))
        .sort("left_id")
    )
    return MatchingDataset("aggregate", seed, invoice.drop("_key"), payment.drop("_key"), truth)


def generate(scenario: str, rows: int, seed: int = 12345) -> MatchingDataset:
    """``rows`` per side; for ``aggregate`` it is the invoice count, with 0.3 x rows payments."""
    if scenario == "clean":
        return bank_vs_ledger(rows, dirty=False, seed=seed)
    if scenario == "dirty":
        return bank_vs_ledger(rows, dirty=True, seed=seed)
    if scenario == "aggregate":
        return invoices_vs_payments(rows, round(rows * 0.3), seed=seed)
    raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    dataset = generate(args.scenario, args.rows, args.seed)
    dataset.save(args.out)
    print(f"{args.scenario}: left {dataset.left.height:,} right {dataset.right.height:,} "
          f"truth links {dataset.truth.height:,} -> {args.out}")


if __name__ == "__main__":
    main()
