"""Comparisons prepared as flat NumPy arrays per side and evaluated in bulk over (left, right) index pairs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar

import numpy as np
import polars as pl
from rapidfuzz import distance, fuzz, process

from matcher.domain import keys
from matcher.domain.errors import InputError
from matcher.domain.records import Side, common_scale, day_numbers, minor_units, normalised_pair
from matcher.domain.references import ExtraCodes, SideCodes, any_shared, extract_references
from matcher.domain.rule_parts import (
    DateWindowComparison,
    ExactComparison,
    FuzzyComparison,
    NormalisedComparison,
    NumericToleranceComparison,
    PhoneticComparison,
    ReferenceComparison,
)
from matcher.domain.rules import Pass

T = TypeVar("T")
Kind = Literal["code", "numeric", "date", "fuzzy"]
ComparisonSpec = (
    ExactComparison
    | NormalisedComparison
    | NumericToleranceComparison
    | DateWindowComparison
    | FuzzyComparison
    | PhoneticComparison
    | ReferenceComparison
)

_SCORERS: dict[str, tuple[Any, float]] = {
    "levenshtein": (distance.Levenshtein.normalized_similarity, 1.0),
    "damerau_levenshtein": (distance.DamerauLevenshtein.normalized_similarity, 1.0),
    "jaro_winkler": (distance.JaroWinkler.normalized_similarity, 1.0),
    "token_set": (fuzz.token_set_ratio, 100.0),
}
# Percent tolerances are tested in float64; pairs within this relative distance of the boundary
# are re-tested exactly in integers, so "0.50 off, 0.5 % of 100.00" is inside, exactly.
_PERCENT_SLACK = 1e-6
# Fuzzy comparisons keep their strings in Arrow and make Python strings per chunk of pairs.
_STRING_CHUNK = 262_144
_TEXT_ONLY = np.zeros(0, dtype=object)  # fuzzy `left`/`right`: use Prepared.texts()


@dataclass
class Prepared:
    """One comparison ready to run: values as arrays indexed by each side's row number."""

    name: str
    spec: ComparisonSpec
    kind: Kind
    left: np.ndarray
    right: np.ndarray
    left_valid: np.ndarray
    right_valid: np.ndarray
    left_alt: np.ndarray | None = None  # second hash half for "code" comparisons
    right_alt: np.ndarray | None = None
    # "code" comparisons whose records may hold several codes (references.py); None: one per row.
    left_extra: ExtraCodes | None = None
    right_extra: ExtraCodes | None = None
    # `reference` comparisons: rows whose references past MAX_REFERENCES were ignored (counted in stats).
    left_capped: np.ndarray | None = None
    right_capped: np.ndarray | None = None
    scale: int = 0  # decimals of numeric minor units
    abs_tolerance: int | None = None  # minor units
    percent: float | None = None
    window: tuple[int, int] = (0, 0)  # date: allowed right - left, inclusive
    left_display: pl.Series = field(default_factory=lambda: pl.Series(dtype=pl.Utf8))
    right_display: pl.Series = field(default_factory=lambda: pl.Series(dtype=pl.Utf8))
    left_text: pl.Series | None = None  # fuzzy: the normalised strings ("" where missing)
    right_text: pl.Series | None = None

    def texts(self, side: Literal["left", "right"], rows: np.ndarray) -> np.ndarray:
        """Fuzzy: the normalised strings of `rows` as Python strings, made on demand. Kept for every
        row they would cost ~70 MB per million records and side, for the whole run."""
        text = self.left_text if side == "left" else self.right_text
        assert text is not None, "texts() is only for fuzzy comparisons"
        strings: np.ndarray = text.gather(rows).to_numpy()
        return strings

    @property
    def several_codes(self) -> bool:
        """Some record holds more than one code: equal means any left code equals any right one."""
        return self.left_extra is not None or self.right_extra is not None

    def code_sets(self) -> tuple[SideCodes, SideCodes]:
        """Both sides' codes, primary and extra, for "any code equal"."""
        assert self.left_alt is not None
        assert self.right_alt is not None
        return (
            SideCodes(self.left, self.left_alt, self.left_valid, self.left_extra),
            SideCodes(self.right, self.right_alt, self.right_valid, self.right_extra),
        )

    @property
    def is_filter(self) -> bool:
        return self.spec.mode == "filter"

    @property
    def ignores_missing(self) -> bool:
        return self.spec.missing == "ignore"

    @property
    def cost_rank(self) -> int:
        """Cheap comparisons run first so expensive ones see fewer pairs."""
        return 1 if self.kind == "fuzzy" else 0


@dataclass(frozen=True)
class Evaluated:
    similarity: np.ndarray  # float32 in [0, 1]
    passed: np.ndarray  # bool
    valid: np.ndarray  # bool: both values present


def prepare_pass(pass_: Pass, left: Side, right: Side, cache: dict[str, Prepared]) -> list[Prepared]:
    prepared = []
    for index, (name, spec) in enumerate(zip(pass_.comparison_names(), pass_.comparisons, strict=True)):
        where = f"passes[{pass_.name}].comparisons[{index}]"
        cache_key = spec.model_dump_json(exclude={"name", "mode", "weight", "missing"})
        if cache_key not in cache:
            cache[cache_key] = located(where, _prepare, spec, left, right, where)
        base = cache[cache_key]
        prepared.append(Prepared(**{**base.__dict__, "name": name, "spec": spec}))
    return prepared


def capped_in_pool(comps: list[Prepared], side: Literal["left", "right"], free: np.ndarray) -> int:
    """Records of the pass's pool whose references past MAX_REFERENCES a comparison of it ignored."""
    found = [c.left_capped if side == "left" else c.right_capped for c in comps]
    rows = [r for r in found if r is not None and len(r)]
    return int(free[np.unique(np.concatenate(rows))].sum()) if rows else 0


def located(where: str, build: Callable[..., T], *args: Any) -> T:
    """`build(*args)`, with an input error's message prefixed by the rule path that needed it."""
    try:
        return build(*args)
    except InputError as error:
        if "needed by" in error.message or error.message.startswith(where):
            raise
        raise InputError(f"{where}: {error.message}") from error


def _prepare(spec: ComparisonSpec, left: Side, right: Side, where: str) -> Prepared:
    if isinstance(spec, ReferenceComparison):
        lrefs = extract_references(left, spec.left_sources, spec, where)
        rrefs = extract_references(right, spec.right_sources, spec, where)
        prepared = _code_comparison(spec, lrefs.primary, rrefs.primary, lrefs.display, rrefs.display)
        prepared.left_extra, prepared.right_extra = lrefs.extra, rrefs.extra
        prepared.left_capped, prepared.right_capped = lrefs.capped, rrefs.capped
        return prepared
    lcol = left.column(str(spec.left_column), needed_by=where)
    rcol = right.column(str(spec.right_column), needed_by=where)
    if isinstance(spec, NumericToleranceComparison):
        return _numeric_comparison(spec, lcol, rcol)
    if isinstance(spec, DateWindowComparison):
        return _date_comparison(spec, lcol, rcol)
    if isinstance(spec, FuzzyComparison):
        columns = (str(spec.left_column), str(spec.right_column))
        ln, rn = normalised_pair(left, right, columns, spec.normalise, needed_by=where)
        ln, rn = ln.replace("", None), rn.replace("", None)
        return Prepared(
            name="", spec=spec, kind="fuzzy", left=_TEXT_ONLY, right=_TEXT_ONLY,
            left_valid=ln.is_not_null().to_numpy(), right_valid=rn.is_not_null().to_numpy(),
            left_display=_display(lcol), right_display=_display(rcol),
            left_text=ln.fill_null(""), right_text=rn.fill_null(""),
        )  # fmt: skip
    if isinstance(spec, NormalisedComparison):
        columns = (str(spec.left_column), str(spec.right_column))
        ln, rn = normalised_pair(left, right, columns, spec.normalise, needed_by=where)
        return _code_comparison(spec, ln.replace("", None), rn.replace("", None), lcol, rcol)
    if isinstance(spec, PhoneticComparison):
        lp, rp = keys.phonetic_series(lcol, spec.algorithm), keys.phonetic_series(rcol, spec.algorithm)
        return _code_comparison(spec, lp, rp, lcol, rcol)
    if lcol.dtype != rcol.dtype:
        lcol, rcol = _exact_aligned(lcol, rcol)
    return _code_comparison(spec, lcol, rcol, lcol, rcol)


def _exact_aligned(left: pl.Series, right: pl.Series) -> tuple[pl.Series, pl.Series]:
    if isinstance(left.dtype, pl.Decimal) or isinstance(right.dtype, pl.Decimal):
        scale = common_scale(left, right)
        return minor_units(left, scale), minor_units(right, scale)
    return keys.align_key_dtypes(left, right)


def _code_comparison(
    spec: ComparisonSpec, lv: pl.Series, rv: pl.Series, ldisplay: pl.Series, rdisplay: pl.Series
) -> Prepared:
    la, lb, lvalid = keys.hash_pair(lv.to_frame("v"))
    ra, rb, rvalid = keys.hash_pair(rv.to_frame("v"))
    return Prepared(
        name="", spec=spec, kind="code", left=la, right=ra, left_alt=lb, right_alt=rb,
        left_valid=lvalid, right_valid=rvalid,
        left_display=_display(ldisplay), right_display=_display(rdisplay),
    )  # fmt: skip


def _numeric_comparison(spec: NumericToleranceComparison, lcol: pl.Series, rcol: pl.Series) -> Prepared:
    scale = common_scale(lcol, rcol)
    lu, ru = minor_units(lcol, scale), minor_units(rcol, scale)
    abs_tolerance = None
    if spec.absolute is not None:
        # A tolerance finer than the data's scale can only admit whole minor units: floor it.
        abs_tolerance = int((spec.absolute * 10**scale).to_integral_value(rounding="ROUND_FLOOR"))
    return Prepared(
        name="", spec=spec, kind="numeric",
        left=lu.fill_null(0).to_numpy(), right=ru.fill_null(0).to_numpy(),
        left_valid=lu.is_not_null().to_numpy(), right_valid=ru.is_not_null().to_numpy(),
        scale=scale, abs_tolerance=abs_tolerance,
        percent=float(spec.percent) if spec.percent is not None else None,
        left_display=_display(lcol), right_display=_display(rcol),
    )  # fmt: skip


def _date_comparison(spec: DateWindowComparison, lcol: pl.Series, rcol: pl.Series) -> Prepared:
    ld, rd = day_numbers(lcol), day_numbers(rcol)
    window = {
        "either": (-spec.days, spec.days),
        "left_before_right": (0, spec.days),
        "right_before_left": (-spec.days, 0),
    }[spec.direction]
    return Prepared(
        name="", spec=spec, kind="date",
        left=ld.fill_null(0).to_numpy().astype(np.int64), right=rd.fill_null(0).to_numpy().astype(np.int64),
        left_valid=ld.is_not_null().to_numpy(), right_valid=rd.is_not_null().to_numpy(),
        window=window, left_display=_display(lcol), right_display=_display(rcol),
    )  # fmt: skip


def _display(series: pl.Series) -> pl.Series:
    # Kept raw: explanations cast only the values they show (casting a million amounts is not free).
    return series


def evaluate(comp: Prepared, li: np.ndarray, ri: np.ndarray, *, cutoff: float = 0.0, workers: int = 1) -> Evaluated:
    """Similarity, pass/fail and presence of both values for each pair (li[k], ri[k])."""
    valid = comp.left_valid[li] & comp.right_valid[ri]
    if comp.kind == "code":
        assert comp.left_alt is not None
        assert comp.right_alt is not None
        equal = (comp.left[li] == comp.right[ri]) & (comp.left_alt[li] == comp.right_alt[ri]) & valid
        if comp.several_codes:
            equal = any_shared(*comp.code_sets(), li, ri, equal)
        similarity = equal.astype(np.float32)
        passed = equal
    elif comp.kind == "numeric":
        similarity, passed = _numeric(comp, comp.left[li], comp.right[ri])
    elif comp.kind == "date":
        delta = comp.right[ri] - comp.left[li]
        lo, hi = comp.window
        passed = (delta >= lo) & (delta <= hi)
        days = int(getattr(comp.spec, "days", 0))
        similarity = np.clip(1.0 - np.abs(delta) / (2.0 * (days + 1)), 0.0, 1.0).astype(np.float32)
        # A directed window gives no credit for a lag the wrong way round, however short.
        direction = getattr(comp.spec, "direction", "either")
        if direction != "either":
            wrong_way = delta < 0 if direction == "left_before_right" else delta > 0
            similarity[wrong_way] = 0.0
    else:
        similarity = _fuzzy_pairs(comp, li, ri, cutoff, workers)
        passed = similarity.astype(np.float64) >= float(getattr(comp.spec, "threshold", 0.0))
    return _apply_missing(comp, similarity, passed, valid)


def evaluate_block(
    comp: Prepared, lrows: np.ndarray, rrows: np.ndarray, *, cutoff: float = 0.0, workers: int = 1
) -> Evaluated:
    """Same as `evaluate` over every pair of a dense block, flattened row-major (left-major)."""
    if comp.kind != "fuzzy":
        return evaluate(comp, np.repeat(lrows, len(rrows)), np.tile(rrows, len(lrows)))
    scorer, scale = _SCORERS[getattr(comp.spec, "algorithm", "jaro_winkler")]
    matrix = process.cdist(
        comp.texts("left", lrows), comp.texts("right", rrows), scorer=scorer, score_cutoff=cutoff * scale or None,
        dtype=np.float32, workers=workers,
    )  # fmt: skip
    similarity = (matrix.ravel() / np.float32(scale)) if scale != 1.0 else matrix.ravel()
    valid = (comp.left_valid[lrows][:, None] & comp.right_valid[rrows][None, :]).ravel()
    passed = similarity.astype(np.float64) >= float(getattr(comp.spec, "threshold", 0.0))
    return _apply_missing(comp, similarity, passed, valid)


def _apply_missing(comp: Prepared, similarity: np.ndarray, passed: np.ndarray, valid: np.ndarray) -> Evaluated:
    passed = passed | ~valid if comp.ignores_missing else passed & valid
    similarity = np.where(valid, similarity, np.float32(0.0)).astype(np.float32, copy=False)
    return Evaluated(similarity=similarity, passed=passed, valid=valid)


def _numeric(comp: Prepared, lv: np.ndarray, rv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    diff = np.abs(lv - rv)
    passed = np.zeros(diff.shape, dtype=bool)
    tolerance = np.zeros(diff.shape, dtype=np.float64)
    if comp.abs_tolerance is not None:
        passed |= diff <= comp.abs_tolerance
        tolerance = np.maximum(tolerance, float(comp.abs_tolerance))
    if comp.percent is not None:
        kind = getattr(comp.spec, "percent_base", "max")
        base = percent_base(kind, lv, rv)
        allowed = comp.percent * base / 100.0
        within = diff <= allowed
        # Float rounding only matters within a hair of the boundary; decide those pairs exactly.
        near = np.flatnonzero(np.abs(diff - allowed) <= _PERCENT_SLACK * np.maximum(allowed, 1.0))
        if len(near):
            within[near] = _exact_percent_test(comp, diff[near], lv[near], rv[near], kind)
        passed |= within
        tolerance = np.maximum(tolerance, allowed)
    with np.errstate(divide="ignore", invalid="ignore"):
        similarity = np.where(tolerance > 0, 1.0 - diff / (2.0 * tolerance), (diff == 0).astype(np.float64))
    return np.clip(similarity, 0.0, 1.0).astype(np.float32), passed


def _exact_percent_test(comp: Prepared, diff: np.ndarray, lv: np.ndarray, rv: np.ndarray, kind: str) -> np.ndarray:
    """diff <= percent/100 * base in Python integers (no rounding at all)."""
    numerator, denominator = Decimal(str(getattr(comp.spec, "percent", 0))).as_integer_ratio()
    out = np.zeros(len(diff), dtype=bool)
    for k, (d, left, right) in enumerate(zip(diff.tolist(), lv.tolist(), rv.tolist(), strict=True)):
        magnitudes = (abs(left), abs(right))
        base = {"left": magnitudes[0], "right": magnitudes[1], "max": max(magnitudes), "min": min(magnitudes)}[kind]
        out[k] = d * 100 * denominator <= numerator * base
    return out


def percent_base(kind: str, lv: np.ndarray, rv: np.ndarray) -> np.ndarray:
    la: np.ndarray = np.abs(lv).astype(np.float64)
    ra: np.ndarray = np.abs(rv).astype(np.float64)
    choices: dict[str, np.ndarray] = {"left": la, "right": ra}
    if kind in choices:
        return choices[kind]
    both: np.ndarray = np.maximum(la, ra) if kind == "max" else np.minimum(la, ra)
    return both


def _fuzzy_pairs(comp: Prepared, li: np.ndarray, ri: np.ndarray, cutoff: float, workers: int) -> np.ndarray:
    if len(li) == 0:
        return np.zeros(0, dtype=np.float32)
    algorithm = getattr(comp.spec, "algorithm", "jaro_winkler")
    scorer, scale = _SCORERS[algorithm]
    assert comp.left_text is not None
    assert comp.right_text is not None
    scores = np.empty(len(li), dtype=np.float32)
    for start in range(0, len(li), _STRING_CHUNK):
        chunk = slice(start, start + _STRING_CHUNK)
        left, right = comp.left_text.gather(li[chunk]), comp.right_text.gather(ri[chunk])
        # Identical strings score the maximum under every scorer (token-set only when there is a word:
        # it gives 0 to strings without one), so they skip rapidfuzz and Python strings altogether.
        # Many true pairs have identical normalised names.
        same = left == right
        if algorithm == "token_set":
            same = same & left.str.contains(r"[\p{L}\p{N}]")
        same_np = same.to_numpy()
        rest = np.flatnonzero(~same_np)
        part = np.full(len(same_np), np.float32(scale), dtype=np.float32)
        if len(rest):
            part[rest] = process.cpdist(
                left.gather(rest).to_numpy(), right.gather(rest).to_numpy(), scorer=scorer,
                score_cutoff=cutoff * scale or None, dtype=np.float32, workers=workers,
            )  # fmt: skip
        scores[chunk] = part
    return scores / np.float32(scale) if scale != 1.0 else scores


def score_cutoffs(comps: list[Prepared], review_threshold: float) -> list[float]:
    """Lowest similarity each comparison can have while the pair still reaches the review threshold.

    Lets rapidfuzz skip hopeless pairs early. Computed with every weight in the denominator, which
    gives the smallest (safest) bound even when `missing: ignore` drops a comparison from it.
    """
    total = sum(c.spec.weight for c in comps if not c.is_filter)
    cutoffs = []
    for comp in comps:
        threshold = float(getattr(comp.spec, "threshold", 0.0))
        if comp.is_filter:
            cutoffs.append(threshold if comp.kind == "fuzzy" else 0.0)
            continue
        needed = (review_threshold * total - (total - comp.spec.weight)) / comp.spec.weight
        # The margin is 1e-6 of the *score*: a similarity cut below it leaves the pair's score at least
        # 1e-6 under the threshold, which rounding scores to 6 decimals cannot lift onto it.
        margin = 1e-6 * total / comp.spec.weight
        cutoffs.append(max(0.0, needed - margin) if not comp.ignores_missing else 0.0)
    return cutoffs
