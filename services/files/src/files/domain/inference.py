"""Whole-column format inference: evidence from every value, a decision only when evidence is one-sided.

Amounts: the decimal separator. "1.234,56" proves a decimal comma, "1,234.56" or "12.5" a decimal
point; "1,234" proves nothing (thousands or decimal?). Dates: DD/MM vs MM/DD. "25/01/2024" proves
day-first, "01/25/2024" month-first; "05/01/2024" proves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from files.domain.amounts import NumberFormat, SeparatorEvidence, separator_evidence
from files.domain.dates import DateEvidence, DateOrder, ExplicitDateFormat, date_evidence
from files.domain.errors import ErrorCode, FileProblem, ValueExample
from files.domain.raw import LINE

MAX_EXAMPLES = 3


@dataclass(slots=True)
class _Examples:
    items: list[ValueExample] = field(default_factory=list)
    count: int = 0

    def add(self, raw: str, line: int) -> None:
        self.count += 1
        # Distinct values make better examples (and the main pass sees the window's values again).
        if len(self.items) < MAX_EXAMPLES and all(e.raw_value != raw for e in self.items):
            self.items.append(ValueExample(line=line, raw_value=raw))

    def render(self) -> str:
        return ", ".join(f"{e.raw_value!r} (line {e.line})" for e in self.items)


class Undecided:
    """The evidence so far allows no decision; more rows (the whole column) are needed."""


UNDECIDED = Undecided()


@dataclass(slots=True)
class AmountProfile:
    column: str
    explicit: NumberFormat | None = None
    point: _Examples = field(default_factory=_Examples)
    comma: _Examples = field(default_factory=_Examples)
    ambiguous: _Examples = field(default_factory=_Examples)

    def observe(self, raw: str, line: int) -> None:
        evidence = separator_evidence(raw)
        if evidence is SeparatorEvidence.DOT_DECIMAL:
            self.point.add(raw, line)
        elif evidence is SeparatorEvidence.COMMA_DECIMAL:
            self.comma.add(raw, line)
        elif evidence is SeparatorEvidence.AMBIGUOUS:
            self.ambiguous.add(raw, line)

    def resolve(self, *, complete: bool) -> NumberFormat | FileProblem | Undecided:
        if self.explicit is not None and self.explicit.decimal is not None:
            return self.explicit
        thousands = self.explicit.thousands if self.explicit is not None else None
        if self.point.count and self.comma.count:
            return FileProblem(
                code=ErrorCode.AMOUNT_FORMAT_CONTRADICTORY, column=self.column,
                examples=tuple(self.point.items + self.comma.items),
                message=(f"column {self.column!r} mixes a decimal point ({self.point.render()}) and a decimal "
                         f"comma ({self.comma.render()}); set its decimal_separator"))
        if self.point.count:
            return NumberFormat(".", thousands)
        if self.comma.count:
            return NumberFormat(",", thousands)
        if not complete:
            return UNDECIDED
        if self.ambiguous.count:
            return FileProblem(
                code=ErrorCode.AMOUNT_FORMAT_AMBIGUOUS, column=self.column, examples=tuple(self.ambiguous.items),
                message=(f"column {self.column!r} only has values like {self.ambiguous.render()} that read as "
                         f"thousands or as decimals; set its decimal_separator"))
        return NumberFormat(None, thousands)

    def describe_origin(self, fmt: NumberFormat) -> str:
        """Where the inferred format came from, for error messages ("inferred from line 7: '1,5'")."""
        if self.explicit is not None and self.explicit.decimal is not None:
            return "set in the mapping"
        source = self.point if fmt.decimal == "." else self.comma
        if source.items:
            first = source.items[0]
            return f"inferred from line {first.line}: {first.raw_value!r}"
        return "inferred from the column"


@dataclass(slots=True)
class DateProfile:
    column: str
    explicit: ExplicitDateFormat | None = None
    day_first: _Examples = field(default_factory=_Examples)
    month_first: _Examples = field(default_factory=_Examples)
    ambiguous: _Examples = field(default_factory=_Examples)

    def observe(self, raw: str, line: int) -> None:
        evidence = date_evidence(raw)
        if evidence is DateEvidence.DAY_FIRST:
            self.day_first.add(raw, line)
        elif evidence is DateEvidence.MONTH_FIRST:
            self.month_first.add(raw, line)
        elif evidence is DateEvidence.AMBIGUOUS:
            self.ambiguous.add(raw, line)

    def resolve(self, *, complete: bool) -> ExplicitDateFormat | DateOrder | FileProblem | Undecided | None:
        """An explicit format, an inferred order, None (no value needs an order), a problem, or undecided."""
        if self.explicit is not None:
            return self.explicit
        contradiction = self.contradiction()
        if contradiction is not None:
            return contradiction
        if self.day_first.count:
            return DateOrder.DAY_FIRST
        if self.month_first.count:
            return DateOrder.MONTH_FIRST
        if self.ambiguous.count:
            return self.ambiguity() if complete else UNDECIDED
        return None

    def contradiction(self) -> FileProblem | None:
        if not (self.day_first.count and self.month_first.count):
            return None
        return FileProblem(
            code=ErrorCode.DATE_FORMAT_CONTRADICTORY, column=self.column,
            examples=tuple(self.day_first.items + self.month_first.items),
            message=(f"column {self.column!r} has day-first dates ({self.day_first.render()}) and month-first "
                     f"dates ({self.month_first.render()}); set its date_format"))

    def ambiguity(self) -> FileProblem:
        return FileProblem(
            code=ErrorCode.DATE_FORMAT_AMBIGUOUS, column=self.column, examples=tuple(self.ambiguous.items),
            message=(f"column {self.column!r} has dates like {self.ambiguous.render()} that read as DD/MM or "
                     f"MM/DD, and no value settles which; set its date_format (e.g. 'DD/MM/YYYY')"))


def distinct_with_first_line(frame: pl.DataFrame, column: str, *,
                             where: pl.Expr | None = None) -> list[tuple[str, int]]:
    """Each distinct non-null value of a column (rows matching `where`) with the first line it is on."""
    lazy = frame.lazy()
    if where is not None:
        lazy = lazy.filter(where)
    result = (lazy.select(pl.col(column).alias("v"), pl.col(LINE))
              .filter(pl.col("v").is_not_null())
              .group_by("v").agg(pl.col(LINE).min())
              .sort(LINE)
              .collect())
    return list(zip(result["v"].to_list(), result[LINE].to_list(), strict=True))
