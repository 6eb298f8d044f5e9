"""The rule set: ordered passes of blocking keys, comparisons and a cardinality; JSON/YAML loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from matcher.domain.errors import RuleError
from matcher.domain.rule_parts import (
    COMPARISON_TYPES,
    Comparison,
    KeyExpr,
    NumericToleranceComparison,
    StrictModel,
    UnitFloat,
)

Cardinality = Literal["one_to_one", "one_to_many", "many_to_one"]


class GroupSpec(StrictModel):
    """How the "many" side of a 1:N / N:1 pass forms groups: by a key, or by bounded subset search."""

    by: list[KeyExpr] | None = None
    min_size: int = Field(default=2, ge=1, le=10)
    max_size: int = Field(default=5, ge=1, le=10)
    max_candidates: int = Field(default=24, ge=2, le=64)  # per single record, best first; bounds the search

    @model_validator(mode="after")
    def _sizes_ordered(self) -> GroupSpec:
        if self.min_size > self.max_size:
            raise ValueError("min_size must be <= max_size")
        return self


class Pass(StrictModel):
    name: str = Field(min_length=1)
    cardinality: Cardinality = "one_to_one"
    blocking: list[KeyExpr] = Field(default_factory=list)
    comparisons: list[Comparison] = Field(default_factory=list)
    auto_match_threshold: UnitFloat = 0.9
    review_threshold: UnitFloat = 0.6
    ambiguity_margin: UnitFloat = 0.0
    group: GroupSpec | None = None
    max_block_pairs: int = Field(default=2_000_000, ge=10_000)
    # In a pass with fuzzy comparisons, records with more candidates than this in a big block are
    # re-blocked by shared words (ENGINE.md §3.3); 0 turns that off.
    hot_candidates: int = Field(default=64, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Pass:
        if self.review_threshold > self.auto_match_threshold:
            raise ValueError("review_threshold must be <= auto_match_threshold")
        if not self.blocking and not self.comparisons:
            raise ValueError("a pass needs blocking keys or comparisons")
        names = [c.name for c in self.comparisons if c.name]
        if len(names) != len(set(names)):
            raise ValueError("comparison names must be unique within a pass")
        if self.cardinality == "one_to_one":
            if self.group is not None:
                raise ValueError("`group` only applies to one_to_many / many_to_one passes")
        else:
            if self.group is None:
                raise ValueError(f"a {self.cardinality} pass needs `group` (`by` keys or `max_size`)")
            if self.sum_comparison is None:
                raise ValueError(
                    f"a {self.cardinality} pass needs a numeric_tolerance comparison (mode: filter) "
                    "that the group sum must satisfy"
                )
        return self

    @property
    def sum_comparison(self) -> NumericToleranceComparison | None:
        """The amount test a group's sum must pass (the first filter-mode numeric tolerance)."""
        for comparison in self.comparisons:
            if isinstance(comparison, NumericToleranceComparison) and comparison.mode == "filter":
                return comparison
        return None

    def comparison_names(self) -> list[str]:
        """Names as given, else the field name (`<field>_<type>` if the field is compared twice),
        made unique with a numeric suffix."""
        fields = [c.left_column for c in self.comparisons if not c.name]
        names: list[str] = []
        for comparison in self.comparisons:
            field = str(comparison.left_column)
            default = field if fields.count(comparison.left_column) == 1 else f"{field}_{comparison.type}"
            base = comparison.name or default
            name, n = base, 2
            while name in names:
                name, n = f"{base}_{n}", n + 1
            names.append(name)
        return names


class SideMapping(StrictModel):
    """How to read one input file into canonical records (used by the CLI and the files service)."""

    columns: dict[str, str] = Field(default_factory=dict)  # canonical field -> column in the file
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal[",", ".", " ", "'", "_"] | None = None
    date_format: str | None = None  # strftime format; ISO 8601 when absent
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    sheet: str | None = None
    encoding: Literal["utf8", "utf8-lossy"] = "utf8"

    @model_validator(mode="after")
    def _separators_differ(self) -> SideMapping:
        if self.thousands_separator == self.decimal_separator:
            raise ValueError("thousands_separator must differ from decimal_separator")
        return self


class Mapping(StrictModel):
    left: SideMapping = Field(default_factory=SideMapping)
    right: SideMapping = Field(default_factory=SideMapping)


class RuleSet(StrictModel):
    version: Literal[1] = 1
    name: str | None = None
    mapping: Mapping | None = None
    passes: list[Pass] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_pass_names(self) -> RuleSet:
        names = [p.name for p in self.passes]
        if len(names) != len(set(names)):
            raise ValueError("pass names must be unique")
        return self


def parse_rules(text: str, fmt: Literal["yaml", "json"] = "yaml") -> RuleSet:
    """Parse and validate a rule set; raises RuleError with a one-line, path-naming message."""
    try:
        data = yaml.safe_load(text) if fmt == "yaml" else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuleError(f"rules are not valid {fmt.upper()}: {first}") from None
    return rules_from_data(data)


def load_rules(path: str | Path) -> RuleSet:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read rules file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RuleError(f"rules file {path} is not UTF-8 text") from None
    return parse_rules(text, "json" if path.suffix.lower() == ".json" else "yaml")


def rules_from_data(data: Any) -> RuleSet:
    if not isinstance(data, dict):
        raise RuleError("rules must be a mapping with a `passes` list")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RuleError(format_validation_error(exc)) from None


def format_validation_error(exc: ValidationError) -> str:
    """First error as `passes[1].comparisons[0].threshold: must be in [0, 1]` (+ count of others)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    text = f"{_format_location(first['loc'])}: {message}" if first["loc"] else message
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


def _format_location(loc: tuple[int | str, ...]) -> str:
    text = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        # Pydantic inserts the discriminator tag ("fuzzy") after a union member's index; drop it.
        elif isinstance(previous, int) and part in COMPARISON_TYPES:
            pass
        else:
            text += f".{part}" if text else str(part)
        previous = part
    return text
