"""Building blocks of a rule set: field references, normalisation, key expressions, comparisons."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from matcher.domain import equivalences


def _unit_interval(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be in [0, 1]")
    return value


def _non_negative_decimal(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError("must be a finite number >= 0")
    return value


def _valid_regex(pattern: str) -> str:
    # The engine runs the regex in Polars (Rust regex crate), which rejects look-arounds and
    # back-references that Python's `re` accepts; validate with the engine that will run it.
    try:
        pl.Series([""]).str.contains(pattern)
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines()]
        errors = [line.removeprefix("error: ") for line in lines if line.startswith("error:")]
        reason = errors[0] if errors else (lines[0] if lines and lines[0] else type(exc).__name__)
        raise ValueError(f"invalid regular expression {pattern!r}: {reason}") from None
    return pattern


def _whitespace_mode(value: object) -> object:
    if value is True:
        return "collapse"
    if value is False:
        return "keep"
    return value


UnitFloat = Annotated[float, AfterValidator(_unit_interval)]
NonNegativeDecimal = Annotated[Decimal, AfterValidator(_non_negative_decimal)]
Regex = Annotated[str, AfterValidator(_valid_regex)]
WhitespaceMode = Annotated[Literal["keep", "collapse", "remove"], BeforeValidator(_whitespace_mode)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Normalise(StrictModel):
    """String clean-up applied before comparing or keying (in this order)."""

    case: bool = True
    punctuation: bool = True  # punctuation becomes a space, so "smith,john" == "smith john"
    whitespace: WhitespaceMode = "collapse"
    leading_zeros: bool = False  # "INV 0042" == "INV 42": strips zeros that start a digit run
    equivalences: dict[str, list[str]] = Field(default_factory=dict)  # canonical -> variants (whole words)

    @model_validator(mode="after")
    def _equivalences_resolve(self) -> Normalise:
        equivalences.resolved(self.equivalences, case=self.case)  # a cycle or a doubly claimed variant
        return self


class FieldRef(StrictModel):
    """A field on both sides (`field`) or a different column per side (`left_field`/`right_field`)."""

    field: str | None = None
    left_field: str | None = None
    right_field: str | None = None

    @model_validator(mode="after")
    def _both_sides_named(self) -> FieldRef:
        if self.left_column is None or self.right_column is None:
            raise ValueError("name a `field` (or both `left_field` and `right_field`)")
        return self

    @property
    def left_column(self) -> str | None:
        return self.left_field or self.field

    @property
    def right_column(self) -> str | None:
        return self.right_field or self.field


Phonetic = Literal["soundex", "metaphone", "nysiis"]


class KeyExpr(FieldRef):
    """A blocking or grouping key: a field, optionally transformed (steps apply in field order)."""

    # The FIRST match only (its first capture group if any): a key is one value per record, since a
    # block, a group and a shard hold each record once. A filter-mode `reference` comparison blocks
    # on every match instead (ENGINE.md §2.1, §2.4).
    extract: Regex | None = None
    normalise: Normalise | None = None
    phonetic: Phonetic | None = None
    prefix: int | None = Field(default=None, ge=1)
    suffix: int | None = Field(default=None, ge=1)
    round: int | None = Field(default=None, ge=0, le=18)
    bucket_days: int | None = Field(default=None, ge=1)

    def describe(self) -> str:
        parts = [self.field or f"{self.left_field}/{self.right_field}"]
        for step in ("extract", "phonetic", "prefix", "suffix", "round", "bucket_days"):
            value = getattr(self, step)
            if value is not None:
                parts.append(f"{step}={value}")
        if self.normalise is not None:
            parts.append("normalised")
        return " ".join(parts)


Mode = Literal["filter", "score"]


class ComparisonBase(FieldRef):
    name: str | None = None
    mode: Mode = "filter"
    weight: float = Field(default=1.0, gt=0)
    missing: Literal["fail", "ignore"] = "fail"


class ExactComparison(ComparisonBase):
    type: Literal["exact"]


class NormalisedComparison(ComparisonBase):
    type: Literal["normalised"]
    normalise: Normalise = Field(default_factory=Normalise)


class NumericToleranceComparison(ComparisonBase):
    type: Literal["numeric_tolerance"]
    field: str | None = "amount"
    absolute: NonNegativeDecimal | None = None
    percent: NonNegativeDecimal | None = None
    percent_base: Literal["left", "right", "max", "min"] = "max"

    @model_validator(mode="after")
    def _has_a_tolerance(self) -> NumericToleranceComparison:
        if self.absolute is None and self.percent is None:
            raise ValueError("give `absolute` and/or `percent`")
        return self


class DateWindowComparison(ComparisonBase):
    type: Literal["date_window"]
    field: str | None = "value_date"
    days: int = Field(ge=0, le=36_600)
    direction: Literal["either", "left_before_right", "right_before_left"] = "either"


FuzzyAlgorithm = Literal["levenshtein", "damerau_levenshtein", "jaro_winkler", "token_set"]


class FuzzyComparison(ComparisonBase):
    type: Literal["fuzzy"]
    algorithm: FuzzyAlgorithm = "jaro_winkler"
    threshold: UnitFloat = 0.85
    normalise: Normalise | None = Field(default_factory=Normalise)


class PhoneticComparison(ComparisonBase):
    type: Literal["phonetic"]
    algorithm: Phonetic = "metaphone"


class ReferenceComparison(ComparisonBase):
    """Pull references (e.g. invoice numbers) out of free text on each side; equal if any left one
    equals any right one. Every match of every field counts, distinct after normalisation, the first
    `references.MAX_REFERENCES` of them kept (ENGINE.md §2.2)."""

    type: Literal["reference"]
    pattern: Regex
    field: str | None = None
    fields: list[str] = Field(default_factory=lambda: ["reference", "description"], min_length=1)
    left_fields: list[str] | None = None
    right_fields: list[str] | None = None
    numeric: bool = False  # compare the digits as a number: "INV-0042" == "42"

    @model_validator(mode="before")
    @classmethod
    def _fields_default_to_field(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("field") and "fields" not in data:
            data = {**data, "fields": [data["field"]]}
        return data

    @model_validator(mode="after")
    def _both_sides_named(self) -> ReferenceComparison:
        return self  # `fields` always names both sides; overrides FieldRef's check

    @property
    def left_sources(self) -> list[str]:
        return self.left_fields or self.fields

    @property
    def right_sources(self) -> list[str]:
        return self.right_fields or self.fields

    @property
    def left_column(self) -> str | None:
        return self.left_sources[0]

    @property
    def right_column(self) -> str | None:
        return self.right_sources[0]


Comparison = Annotated[
    ExactComparison
    | NormalisedComparison
    | NumericToleranceComparison
    | DateWindowComparison
    | FuzzyComparison
    | PhoneticComparison
    | ReferenceComparison,
    Field(discriminator="type"),
]

COMPARISON_TYPES = frozenset(
    {"exact", "normalised", "numeric_tolerance", "date_window", "fuzzy", "phonetic", "reference"}
)
