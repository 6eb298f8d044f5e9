"""A bank-statement-like CSV of N rows (~100 bytes a row), written in blocks so memory stays flat.

Values are realistic for the parser: dates DD/MM/YYYY (days above 12 occur, so the order is decidable),
amounts with a decimal comma and thousands dots for large values, ISO currencies, references and
counterparties with some repetition. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from pathlib import Path

HEADER = "Booking date;Value date;Amount;Currency;Reference;Counterparty;Description;Transaction id\n"
COUNTERPARTIES = ["Acme GmbH", "Globex Corporation", "Initech AG", "Umbrella plc", "Stark Industries Ltd",
                  "Wayne Enterprises", "Hooli Inc.", "Vandelay Imports", "Soylent Company", "Tyrell Corporation",
                  "Cyberdyne Systems", "Wonka Industries", "Müller & Söhne KG", "Société Générale Services"]
CURRENCIES = ["EUR", "EUR", "EUR", "USD", "GBP", "CHF"]
BLOCK_ROWS = 50_000


def amount_text(cents: int) -> str:
    """German style: 1.234,56 and -20,00."""
    sign = "-" if cents < 0 else ""
    units, fraction = divmod(abs(cents), 100)
    grouped = f"{units:,}".replace(",", ".")
    return f"{sign}{grouped},{fraction:02d}"


def rows(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    start = date(2025, 1, 1)
    out: list[str] = []
    for index in range(count):
        booked = start + timedelta(days=rng.randint(0, 364))
        valued = booked + timedelta(days=rng.randint(0, 2))
        cents = rng.randint(-2_500_000, 5_000_000)
        out.append(
            f"{booked:%d/%m/%Y};{valued:%d/%m/%Y};{amount_text(cents)};{rng.choice(CURRENCIES)};"
            f"INV-{rng.randint(0, 10**8):08d};{rng.choice(COUNTERPARTIES)};"
            f"Payment {rng.randint(1, 99999)} order {index % 9973};TX{index:010d}\n")
    return out


def write_csv(path: Path, count: int, seed: int = 42) -> int:
    """Write the file; returns its size in bytes."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        for block_start in range(0, count, BLOCK_ROWS):
            handle.writelines(rows(min(BLOCK_ROWS, count - block_start), seed + block_start))
    return path.stat().st_size


MAPPING = {
    "external_id": "Transaction id",
    "amount": "Amount",
    "currency": "Currency",
    "value_date": "Value date",
    "booking_date": "Booking date",
    "reference": "Reference",
    "counterparty": "Counterparty",
    "description": "Description",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    size = write_csv(args.path, args.rows, args.seed)
    print(f"{args.path}: {args.rows} rows, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
