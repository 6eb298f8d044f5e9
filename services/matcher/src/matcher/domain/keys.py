"""String normalisation and key expressions, evaluated column-wise in Polars (Rust), plus key hashing."""

from __future__ import annotations

from collections.abc import Callable

import jellyfish
import numpy as np
import polars as pl

from matcher.domain import equivalences
from matcher.domain.rule_parts import KeyExpr, Normalise, Phonetic

# Two independently seeded 64-bit hashes act as one 128-bit key: a false "equal" needs both to
# collide (probability ~n²/2¹²⁹, about 1e-26 for two million distinct keys).
_SEED_A = 0x5EED_0001
_SEED_B = 0x5EED_0002

_PUNCTUATION = r"[^\p{L}\p{N}\s]"
_NOT_WORD_RUN = r"[^\p{L}\p{N}]+"
# A run of zeros that starts a number ("INV 0042" -> "INV 42") but never a lone "0".
_LEADING_ZEROS = r"(^|[^\p{N}])0+(\p{N})"

PHONETIC_CODERS: dict[Phonetic, Callable[[str], str]] = {
    "soundex": jellyfish.soundex,
    "metaphone": jellyfish.metaphone,
    "nysiis": jellyfish.nysiis,
}


def normalise_expr(expr: pl.Expr, spec: Normalise) -> pl.Expr:
    if spec.punctuation and spec.whitespace == "collapse" and not spec.equivalences:
        # The common spec in one regex pass instead of three (same result: a run of punctuation and
        # whitespace becomes one space, ends stripped); about 40 % cheaper on a million strings.
        out = expr.cast(pl.Utf8)
        if spec.case:
            out = out.str.to_lowercase()
        out = out.str.replace_all(_NOT_WORD_RUN, " ")
        if spec.leading_zeros:
            out = out.str.replace_all(_LEADING_ZEROS, "${1}${2}")
        return out.str.strip_chars()
    out = expr.cast(pl.Utf8)
    if spec.equivalences:
        # Variants are rewritten while their punctuation is still there ("&", "ltd."), then the
        # text and the canonical forms are cleaned up alike.
        if spec.case:
            out = out.str.to_lowercase()
        for pattern, replacement in equivalences.rewrite_rules(
            spec.equivalences, case=spec.case, punctuation=spec.punctuation
        ):
            out = out.str.replace_all(pattern, replacement).str.replace_all(pattern, replacement)
    out = _basic_normalise_expr(out, spec)
    if spec.whitespace == "collapse":
        out = out.str.replace_all(r"\s+", " ").str.strip_chars()
    elif spec.whitespace == "remove":
        out = out.str.replace_all(r"\s+", "")
    return out


def _basic_normalise_expr(expr: pl.Expr, spec: Normalise) -> pl.Expr:
    if spec.case:
        expr = expr.str.to_lowercase()
    if spec.punctuation:
        expr = expr.str.replace_all(_PUNCTUATION, " ")
    if spec.leading_zeros:
        expr = expr.str.replace_all(_LEADING_ZEROS, "${1}${2}")
    return expr


def normalise_series(series: pl.Series, spec: Normalise | None) -> pl.Series:
    return normalise_many([series], spec)[0]


def normalise_many(series: list[pl.Series], spec: Normalise | None) -> list[pl.Series]:
    """Several columns normalised alike, in parallel (one Polars query per column, run together)."""
    if spec is None:
        return [s.cast(pl.Utf8) for s in series]
    queries = [pl.LazyFrame({"v": s}).select(normalise_expr(pl.col("v"), spec).alias(s.name)) for s in series]
    return [frame.to_series() for frame in pl.collect_all(queries)]


def phonetic_series(series: pl.Series, algorithm: Phonetic) -> pl.Series:
    """Phonetic codes, computed once per distinct value (jellyfish is a per-string C call)."""
    coder = PHONETIC_CODERS[algorithm]
    strings = series.cast(pl.Utf8)
    distinct = strings.drop_nulls().unique()
    # An empty code (digits, CJK, punctuation: nothing the algorithm can spell) is no evidence of a
    # match, so it counts as missing rather than equal to every other empty code.
    codes = pl.Series("code", [(coder(v) or None) if v.strip() else None for v in distinct.to_list()], dtype=pl.Utf8)
    table = pl.DataFrame({"value": distinct, "code": codes})
    out = pl.DataFrame({"value": strings}).join(table, on="value", how="left", maintain_order="left")
    return out["code"].alias(series.name)


def extract_series(series: pl.Series, pattern: str) -> pl.Series:
    """Of the FIRST match only: its first capture group if `pattern` has one, else the whole match;
    null where none. Key expressions use it as is; `references.py` finds every match."""
    group = 1 if has_capture_group(pattern) else 0
    return series.cast(pl.Utf8).str.extract(pattern, group)


def has_capture_group(pattern: str) -> bool:
    return bool(pl.Series([""]).str.extract_groups(pattern).struct.fields)


def key_series(series: pl.Series, spec: KeyExpr, *, amount_scale: int | None = None) -> pl.Series:
    """Evaluate one key expression on one side's column; the result dtype is the same on both sides."""
    out = series
    if spec.round is not None:
        out = _rounded_minor_units(series, spec.round, amount_scale)
    elif spec.bucket_days is not None:
        if out.dtype != pl.Date:
            out = out.cast(pl.Date, strict=True)
        out = out.to_physical().cast(pl.Int64) // spec.bucket_days
    if spec.extract is not None:
        out = extract_series(out, spec.extract)
    if spec.normalise is not None:
        out = normalise_series(out, spec.normalise)
    if spec.phonetic is not None:
        out = phonetic_series(out, spec.phonetic)
    if spec.prefix is not None:
        out = out.cast(pl.Utf8).str.slice(0, spec.prefix)
    if spec.suffix is not None:
        out = out.cast(pl.Utf8).str.tail(spec.suffix)
    if out.dtype == pl.Utf8:
        out = out.replace("", None)  # an empty key joins nothing useful
    return out


def _rounded_minor_units(series: pl.Series, decimals: int, amount_scale: int | None) -> pl.Series:
    from matcher.domain.records import minor_units  # records imports keys; keep the cycle lazy

    scale = amount_scale if amount_scale is not None else 0
    values = minor_units(series, scale)
    if decimals >= scale:
        return values
    step = 10 ** (scale - decimals)
    # Half away from zero, in integers, so 2.5 -> 3 and -2.5 -> -3 exactly.
    magnitude = (values.abs() + step // 2) // step
    return pl.select(pl.when(values < 0).then(-magnitude).otherwise(magnitude)).to_series()


def hash_pair(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two 64-bit hashes of each row's key tuple and a validity mask (a null anywhere -> invalid)."""
    columns = frame.columns
    valid = frame.select(pl.all_horizontal(pl.all().is_not_null())).to_series().to_numpy()
    struct = pl.struct(columns)
    hashes = frame.select(struct.hash(seed=_SEED_A).alias("a"), struct.hash(seed=_SEED_B).alias("b"))
    return hashes["a"].to_numpy(), hashes["b"].to_numpy(), valid


def align_key_dtypes(left: pl.Series, right: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Make one key's two sides hash alike: same dtype, falling back to text when they differ."""
    if left.dtype == right.dtype:
        return left, right
    if left.dtype.is_integer() and right.dtype.is_integer():
        return left.cast(pl.Int64), right.cast(pl.Int64)
    return left.cast(pl.Utf8), right.cast(pl.Utf8)


MIX_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def mix_keys(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Combine a 64-bit key with an int64 value (splitmix64 finaliser); version-independent numpy."""
    with np.errstate(over="ignore"):
        z = keys ^ (values.astype(np.uint64) * MIX_MULTIPLIER)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mixed: np.ndarray = z ^ (z >> np.uint64(31))
        return mixed
