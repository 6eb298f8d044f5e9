"""Vocabulary and vectorised string corruption for the matching benchmark generators.

Every function takes a NumPy ``Generator`` so a seed fixes the output, and works on whole Polars
Series: a per-row Python loop would make the 1M-row datasets take minutes instead of seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

FIRST_NAMES = (
    "anna", "ben", "carla", "david", "elena", "felix", "greta", "hugo", "ines", "jonas", "karin",
    "lars", "maria", "nils", "olga", "paul", "rosa", "sven", "tina", "uwe", "vera", "walter", "xenia",
    "yusuf", "zoe", "adam", "beatrice", "cedric", "diana", "emil", "fatima", "george", "helen", "ivan",
    "julia", "kevin", "laura", "marco", "nora", "oscar", "petra", "quentin", "rita", "simon", "theresa",
    "umar", "valerie", "william", "amelia", "bruno", "chloe", "dominik", "eva", "frank", "hannah",
    "isabel", "jakob", "lena", "moritz", "nina", "otto", "pia", "ralf", "sara", "tobias", "ulla",
    "viktor", "wanda"
)

LAST_NAMES = (
    "mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz",
    "hoffmann", "koch", "richter", "klein", "wolf", "schroeder", "neumann", "schwarz", "zimmermann",
    "braun", "krueger", "hofmann", "hartmann", "lange", "schmitt", "werner", "krause", "meier",
    "lehmann", "schmid", "schulze", "maier", "koehler", "herrmann", "koenig", "walter", "mayer",
    "huber", "kaiser", "fuchs", "peters", "lang", "scholz", "moeller", "weiss", "jung", "hahn", "vogel",
    "friedrich", "keller", "guenther", "frank", "berger", "winkler", "roth", "beck", "lorenz",
    "baumann", "franke", "albrecht", "schuster", "simon", "ludwig", "boehm", "winter", "kraus",
    "martin", "kraemer", "vogt", "stein", "jaeger", "otto", "sommer", "gross", "seidel", "heinrich",
    "brandt", "haas", "schreiber", "graf", "dietrich", "ziegler", "kuhn", "engel", "pohl", "horn",
    "busch", "bergmann", "thomas", "voigt", "sauer", "arnold", "wolff", "pfeiffer", "garcia", "rossi",
    "dubois"
)

COMPANY_WORDS = (
    "atlantic", "nordic", "alpine", "summit", "harbor", "pioneer", "vertex", "quantum", "silver",
    "golden", "meridian", "horizon", "cobalt", "granite", "falcon", "orchid", "evergreen", "northstar",
    "redwood", "bluewave", "ironbridge", "lakeside", "clearwater", "brightpath", "highland", "sterling",
    "crescent", "keystone", "riverside", "oakmont", "westfield", "eastgate", "suncrest", "starlight",
    "tidewater", "bayview", "stonegate", "maple", "cedar", "willow", "aspen", "birch"
)

COMPANY_TRADES = (
    "systems", "logistics", "trading", "consulting", "software", "foods", "media", "energy", "services",
    "partners", "solutions", "holdings", "industries", "digital", "capital", "retail", "networks",
    "medical", "textiles", "motors"
)

LEGAL_SUFFIXES = ("gmbh", "ltd", "inc", "ag", "bv", "sarl", "llc", "plc", "kg", "limited")

BANK_PREFIXES = ("SEPA CT ", "FPS ", "TRF ", "CARD ", "SCT REF ", "PAYMENT ", "BACS ")

REFERENCE_ALPHABET = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
NAME_ALPHABET = tuple("abcdefghijklmnopqrstuvwxyz")


def pick(rng: np.random.Generator, vocabulary: Sequence[str], count: int,
         weights: Sequence[float] | None = None) -> pl.Series:
    """``count`` random words; gathering from a small Series avoids slow NumPy unicode arrays."""
    index = rng.choice(len(vocabulary), count, p=weights)
    return pl.Series(list(vocabulary), dtype=pl.Utf8).gather(index)


def counterparty_pool(rng: np.random.Generator, size: int) -> pl.Series:
    """Half people ("anna mueller"), half companies ("atlantic systems gmbh"), title-cased."""
    is_company = rng.random(size) < 0.5
    people = pl.concat_str(
        pl.lit(pick(rng, FIRST_NAMES, size)), pl.lit(pick(rng, LAST_NAMES, size)), separator=" ")
    companies = pl.concat_str(
        pl.lit(pick(rng, COMPANY_WORDS, size)), pl.lit(pick(rng, COMPANY_TRADES, size)),
        pl.lit(pick(rng, LEGAL_SUFFIXES, size)), separator=" ")
    names = pl.select(
        pl.when(pl.lit(pl.Series(is_company))).then(companies).otherwise(people).str.to_titlecase()
    ).to_series()
    return names.rename("counterparty")


def unique_numbers(start: int, count: int, digits: int) -> np.ndarray:
    """``count`` distinct numbers below 10**digits that look random.

    Multiplying by a constant coprime with 10 is a bijection modulo 10**digits, so distinct row
    positions give distinct numbers without a slow sample-without-replacement.
    """
    modulus = 10**digits
    if start + count > modulus:
        raise ValueError(f"cannot draw {count} distinct {digits}-digit numbers from offset {start}")
    positions = np.arange(start, start + count, dtype=np.int64)
    numbers: np.ndarray = (positions * 7_919_113 + 104_729) % modulus
    return numbers


def ledger_references(rng: np.random.Generator, count: int, first_position: int) -> pl.Series:
    """Unique ledger references in four house formats, e.g. ``INV-2024-511955`` or ``PO8549365``.

    ``first_position`` lets two calls draw disjoint reference sets (counterparts vs unrelated rows).
    """
    kind = rng.choice(4, size=count, p=[0.45, 0.25, 0.15, 0.15])
    numbers = unique_numbers(first_position, count, digits=9)
    frame = pl.DataFrame({"kind": kind, "number": numbers})
    digits = pl.col("number").cast(pl.Utf8)
    reference = (
        pl.when(pl.col("kind") == 0)
        .then(pl.concat_str(pl.lit("INV-2024-"), digits.str.zfill(9)))
        .when(pl.col("kind") == 1)
        .then(pl.concat_str(pl.lit("PO"), digits.str.zfill(9)))
        .when(pl.col("kind") == 2)
        .then(pl.concat_str(pl.lit("CRN"), digits.str.zfill(9)))
        .otherwise(pl.concat_str(pl.lit("SO/"), digits.str.zfill(9).str.slice(0, 4), pl.lit("/"),
                                 digits.str.zfill(9).str.slice(4)))
    )
    return frame.select(reference.alias("reference")).to_series()


def _scatter(values: pl.Series, rows: np.ndarray, replacement: pl.Series) -> pl.Series:
    if rows.size == 0:
        return values
    return values.scatter(rows, replacement)


def substitute_char(values: pl.Series, rows: np.ndarray, rng: np.random.Generator,
                    alphabet: Sequence[str]) -> pl.Series:
    """One random character replaced (a keying typo) in the selected rows."""
    subset = values.gather(rows)
    lengths = subset.str.len_chars().to_numpy()
    position = (rng.random(rows.size) * np.maximum(lengths, 1)).astype(np.int64)
    frame = pl.DataFrame({"s": subset, "p": position, "c": pick(rng, alphabet, rows.size)})
    typo = frame.select(pl.concat_str(pl.col("s").str.slice(0, pl.col("p")), pl.col("c"),
                                      pl.col("s").str.slice(pl.col("p") + 1))).to_series()
    return _scatter(values, rows, typo)


def transpose_trailing_digits(values: pl.Series, rows: np.ndarray, rng: np.random.Generator,
                              numeric_tail: int = 6) -> pl.Series:
    """Swap two adjacent characters inside the numeric tail (all reference formats end in digits)."""
    subset = values.gather(rows)
    lengths = subset.str.len_chars().to_numpy()
    position = lengths - 2 - rng.integers(0, numeric_tail - 1, rows.size)
    frame = pl.DataFrame({"s": subset, "p": np.maximum(position, 0)})
    swapped = frame.select(pl.concat_str(
        pl.col("s").str.slice(0, pl.col("p")),
        pl.col("s").str.slice(pl.col("p") + 1, 1),
        pl.col("s").str.slice(pl.col("p"), 1),
        pl.col("s").str.slice(pl.col("p") + 2),
    )).to_series()
    return _scatter(values, rows, swapped)


def truncate(values: pl.Series, rows: np.ndarray, rng: np.random.Generator,
             keep_min: int, keep_max: int) -> pl.Series:
    """Keep only the first ``keep_min..keep_max`` characters, as narrow bank fields do."""
    keep = rng.integers(keep_min, keep_max + 1, rows.size)
    frame = pl.DataFrame({"s": values.gather(rows), "n": keep})
    return _scatter(values, rows, frame.select(pl.col("s").str.head(pl.col("n"))).to_series())


def drop_tail(values: pl.Series, rows: np.ndarray, rng: np.random.Generator,
              drop_min: int, drop_max: int) -> pl.Series:
    """Cut ``drop_min..drop_max`` trailing characters (a reference clipped by a fixed-width field)."""
    drop = rng.integers(drop_min, drop_max + 1, rows.size)
    frame = pl.DataFrame({"s": values.gather(rows), "n": -drop})
    return _scatter(values, rows, frame.select(pl.col("s").str.head(pl.col("n"))).to_series())


def add_bank_prefix(values: pl.Series, rows: np.ndarray, rng: np.random.Generator) -> pl.Series:
    frame = pl.DataFrame({"s": values.gather(rows), "prefix": pick(rng, BANK_PREFIXES, rows.size)})
    return _scatter(values, rows, frame.select(pl.concat_str("prefix", "s")).to_series())


def lowercase(values: pl.Series, rows: np.ndarray) -> pl.Series:
    return _scatter(values, rows, values.gather(rows).str.to_lowercase())


def uppercase(values: pl.Series, rows: np.ndarray) -> pl.Series:
    return _scatter(values, rows, values.gather(rows).str.to_uppercase())


def drop_legal_suffix(values: pl.Series, rows: np.ndarray) -> pl.Series:
    """"Atlantic Systems Gmbh" becomes "Atlantic Systems"; people's names are left as they are."""
    pattern = r"(?i)\s+(" + "|".join(LEGAL_SUFFIXES) + r")$"
    return _scatter(values, rows, values.gather(rows).str.replace(pattern, ""))


def swap_first_two_tokens(values: pl.Series, rows: np.ndarray) -> pl.Series:
    """"Anna Mueller" becomes "Mueller Anna" (surname-first, as many banks print it)."""
    swapped = values.gather(rows).str.replace(r"^(\S+)\s+(\S+)", "$2 $1")
    return _scatter(values, rows, swapped)


def disjoint_row_groups(rng: np.random.Generator, rows: np.ndarray,
                        shares: dict[str, float]) -> dict[str, np.ndarray]:
    """Split ``rows`` into disjoint random groups with the given shares (the rest stays untouched)."""
    if sum(shares.values()) > 1.0 + 1e-9:
        raise ValueError(f"corruption shares add up to more than 1: {shares}")
    shuffled = rng.permutation(rows)
    groups: dict[str, np.ndarray] = {}
    start = 0
    for name, share in shares.items():
        stop = start + round(share * rows.size)
        groups[name] = np.sort(shuffled[start:stop])
        start = stop
    return groups
