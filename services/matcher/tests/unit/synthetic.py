"""Bank-vs-ledger records with known truth, for accuracy tests (small, seeded, deterministic)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import polars as pl

_FIRST = ["acme", "globex", "initech", "umbrella", "stark", "wayne", "wonka", "tyrell", "cyberdyne",
          "hooli", "vandelay", "dunder", "pied", "soylent", "oscorp", "massive", "aperture", "nakatomi"]  # fmt: skip
_SECOND = ["trading", "logistics", "software", "foods", "media", "energy", "capital", "labs", "retail",
           "systems", "holdings", "services"]  # fmt: skip
_SUFFIX = ["ltd", "gmbh", "inc", "sa", "bv", "plc"]
_HOT_AMOUNTS = [1000, 5000, 10000, 2500, 20000, 999, 1499, 4999, 12000, 100000]  # minor units


@dataclass
class Scenario:
    """Which corruptions to apply to the bank copy of a ledger entry (probabilities)."""

    typo: float = 0.0
    transposition: float = 0.0
    bank_prefix: float = 0.0
    truncation: float = 0.0
    amount_drift: float = 0.0  # drift within 0.3 %
    date_lag_days: int = 2
    splits: float = 0.0  # share of bank lines that pay 2-4 ledger entries
    duplicates: float = 0.0  # share of ledger entries duplicated (same amount, date, reference)
    missing: float = 0.1  # share of entries without a counterpart, on each side
    hot_share: float = 0.1
    days: int = 365  # date range; fewer days make hot amounts collide within the date window


@dataclass
class Generated:
    bank: pl.DataFrame
    ledger: pl.DataFrame
    truth: set[tuple[str, str]] = field(default_factory=set)  # (bank id, ledger id) pairs


def generate(n: int, scenario: Scenario, seed: int = 7) -> Generated:
    rng = np.random.default_rng(seed)
    start = dt.date(2024, 1, 1)
    ledger_rows: list[dict[str, object]] = []
    bank_rows: list[dict[str, object]] = []
    truth: set[tuple[str, str]] = set()
    names = [f"{a} {b} {c}" for a in _FIRST for b in _SECOND for c in _SUFFIX]
    for i in range(n):
        cents = (
            int(rng.choice(_HOT_AMOUNTS)) if rng.random() < scenario.hot_share
            else int(np.exp(rng.normal(9, 1.5))) + 1
        )  # fmt: skip
        day = start + dt.timedelta(days=int(rng.integers(0, scenario.days)))
        entry = {
            "record_id": f"L{i:06d}", "amount": cents, "currency": "EUR" if rng.random() < 0.85 else "USD",
            "value_date": day, "reference": f"INV-{rng.integers(0, 10**6):06d}",
            "counterparty": names[int(rng.integers(0, len(names)))],
        }  # fmt: skip
        ledger_rows.append(entry)
        if rng.random() < scenario.missing:
            continue
        if rng.random() < scenario.duplicates:
            twin = {**entry, "record_id": f"L{i:06d}d"}
            ledger_rows.append(twin)
        bank_id = f"B{i:06d}"
        amount = cents
        if rng.random() < scenario.amount_drift:
            amount = cents + int(rng.integers(1, max(2, cents * 3 // 1000)))
        reference = _dirty_reference(str(entry["reference"]), rng, scenario)
        lag = int(rng.integers(0, scenario.date_lag_days + 1))
        members = [entry]
        if rng.random() < scenario.splits:
            for k in range(int(rng.integers(1, 4))):
                extra = {**entry, "record_id": f"L{i:06d}s{k}", "amount": int(rng.integers(500, 50000)),
                         "reference": f"INV-{rng.integers(0, 10**6):06d}"}  # fmt: skip
                ledger_rows.append(extra)
                members.append(extra)
            amount = sum(int(str(m["amount"])) for m in members)
            reference = f"BATCH {entry['counterparty']}"
        bank_rows.append({
            "record_id": bank_id, "amount": amount, "currency": entry["currency"],
            "value_date": day + dt.timedelta(days=lag), "reference": reference,
            "counterparty": _dirty_name(str(entry["counterparty"]), rng),
        })  # fmt: skip
        truth.update((bank_id, str(m["record_id"])) for m in members)
    for j in range(int(n * scenario.missing)):
        bank_rows.append({
            "record_id": f"X{j:06d}", "amount": int(np.exp(rng.normal(9, 1.5))) + 1, "currency": "EUR",
            "value_date": start + dt.timedelta(days=int(rng.integers(0, scenario.days))),
            "reference": f"CARD {rng.integers(0, 10**8)}", "counterparty": names[int(rng.integers(0, len(names)))],
        })  # fmt: skip
    return Generated(_frame(bank_rows), _frame(ledger_rows), truth)


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows)
    return frame.with_columns(
        pl.Series("amount", [Decimal(int(str(v))) / 100 for v in frame["amount"]], dtype=pl.Decimal(38, 2))
    )


def _dirty_reference(reference: str, rng: np.random.Generator, scenario: Scenario) -> str:
    out = reference
    if rng.random() < scenario.typo:
        k = int(rng.integers(4, len(out)))
        out = out[:k] + str(rng.integers(0, 10)) + out[k + 1 :]
    if rng.random() < scenario.transposition:
        k = int(rng.integers(4, len(out) - 1))
        out = out[:k] + out[k + 1] + out[k] + out[k + 2 :]
    if rng.random() < scenario.truncation:
        out = out[: len(out) - 2]
    if rng.random() < scenario.bank_prefix:
        out = "SEPA CT " + out.lower()
    return out


def _dirty_name(name: str, rng: np.random.Generator) -> str:
    roll = rng.random()
    if roll < 0.3:
        return name.upper()
    if roll < 0.45:
        return name.rsplit(" ", 1)[0]
    if roll < 0.55:
        return name.replace("a", "e", 1)
    return name.title()


def precision_recall(matched: pl.DataFrame, truth: set[tuple[str, str]]) -> tuple[float, float, int]:
    """Pairwise precision/recall of the predicted (left, right) pairs (groups expand to pairs).

    A duplicated ledger entry ("L000123d") is as good an answer as its original ("L000123").
    """
    predicted = {
        (left, right.removesuffix("d"))
        for lefts, rights in zip(matched["left_ids"].to_list(), matched["right_ids"].to_list(), strict=True)
        for left in lefts
        for right in rights
    }
    correct = len(predicted & truth)
    precision = correct / len(predicted) if predicted else 1.0
    recall = correct / len(truth) if truth else 1.0
    return precision, recall, len(predicted)
