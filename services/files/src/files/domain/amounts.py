"""Exact amount parsing: separators, signs, currency marks. Decimals only; a float never touches a value.

Sign conventions (one indicator per value, two are an error):
  "-12.50", "12.50-", "(12.50)", "12.50 DR"  -> negative (DR = debit = money out)
  "12.50", "+12.50", "12.50 CR"              -> positive (CR = credit = money in)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Literal

from files.domain.currencies import CURRENCY_SYMBOLS_LONGEST_FIRST
from files.domain.errors import ErrorCode, ValueRejected

DecimalSeparator = Literal[".", ","]

# Unicode White_Space: what polars' strip_chars() removes. Python's str.strip() also removes
# \x1c-\x1f, so the scalar code strips with this set explicitly and both paths agree.
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
              "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
THOUSANDS_MARKS: frozenset[str] = frozenset({",", ".", " ", "\u00a0", "\u202f", "'", "\u2019"})
MAX_DIGITS = 38  # numeric(38, s) and Decimal128 hold this many; more is a mapped id, not an amount

_MINUS_SIGNS = frozenset({"-", "\u2212"})
# CR/DR must not be the tail of a currency code such as SCR, hence the letter lookbehind.
_CREDIT_DEBIT_SUFFIX = re.compile(r"(?<![A-Za-z])(CR|DR)\.?$", re.IGNORECASE)
_LEADING_CODE = re.compile(r"^([A-Za-z]{3})(?![A-Za-z])")
_TRAILING_CODE = re.compile(r"(?<![A-Za-z])([A-Za-z]{3})$")
_NUMBER_CORE = re.compile(r"^[0-9.,' \u00a0\u202f\u2019]*[0-9][0-9.,' \u00a0\u202f\u2019]*$")
_DIGITS = re.compile(r"^[0-9]+$")


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How one column writes numbers. decimal=None means the column holds whole numbers only."""

    decimal: DecimalSeparator | None
    thousands: str | None = None  # None: any grouping mark other than the decimal separator

    def allowed_thousands(self) -> frozenset[str]:
        if self.thousands is not None:
            return frozenset({self.thousands})
        return THOUSANDS_MARKS - {self.decimal} if self.decimal else THOUSANDS_MARKS - {",", "."}

    def describe(self) -> str:
        if self.decimal is None:
            return "whole numbers"
        name = "decimal point" if self.decimal == "." else "decimal comma"
        return f"{name} {self.decimal!r}"


class SignIndicator(Enum):
    MINUS = "minus"
    PLUS = "plus"
    TRAILING_MINUS = "trailing minus"
    PARENTHESES = "parentheses"
    CREDIT = "CR"
    DEBIT = "DR"


_NEGATIVE_INDICATORS = frozenset({SignIndicator.MINUS, SignIndicator.TRAILING_MINUS,
                                  SignIndicator.PARENTHESES, SignIndicator.DEBIT})


@dataclass(frozen=True, slots=True)
class AmountParts:
    core: str  # digits and separators only
    indicator: SignIndicator | None
    currency_token: str | None


@dataclass(frozen=True, slots=True)
class ParsedAmount:
    value: Decimal
    text: str  # canonical: optional "-", digits without leading zeros, "." and the source's fraction digits
    currency_token: str | None
    indicator: SignIndicator | None


class SeparatorEvidence(Enum):
    DOT_DECIMAL = "."
    COMMA_DECIMAL = ","
    AMBIGUOUS = "ambiguous"  # "1,234" or "1.234": thousands or decimal, the value alone can't say
    NONE = "none"


_PLAIN_EDGES = frozenset("0123456789.,-+()\u2212")


def _peel_currency(text: str, *, leading: bool) -> tuple[str, str | None]:
    if not text or (text[0] if leading else text[-1]) in _PLAIN_EDGES:
        return text, None
    for symbol in CURRENCY_SYMBOLS_LONGEST_FIRST:
        if leading and text.startswith(symbol):
            return text[len(symbol):].lstrip(WHITESPACE), symbol
        if not leading and text.endswith(symbol):
            return text[: -len(symbol)].rstrip(WHITESPACE), symbol
    match = (_LEADING_CODE if leading else _TRAILING_CODE).search(text)
    if match is None:
        return text, None
    code = match.group(1).upper()
    rest = text[match.end():] if leading else text[: match.start()]
    return rest.strip(WHITESPACE), code


def split_amount(raw: str) -> AmountParts:
    """Peel currency marks and sign indicators off both ends; what remains must be a bare number."""
    text = raw.strip(WHITESPACE)
    indicators: list[SignIndicator] = []
    currency: str | None = None
    for _ in range(6):
        before = text
        suffix = _CREDIT_DEBIT_SUFFIX.search(text)
        if suffix is not None and suffix.start() > 0:
            indicators.append(SignIndicator.CREDIT if suffix.group(1).upper() == "CR" else SignIndicator.DEBIT)
            text = text[: suffix.start()].rstrip(WHITESPACE)
        if len(text) >= 2 and text[0] == "(" and text[-1] == ")":
            indicators.append(SignIndicator.PARENTHESES)
            text = text[1:-1].strip(WHITESPACE)
        if currency is None:
            text, currency = _peel_currency(text, leading=True)
        if currency is None:
            text, currency = _peel_currency(text, leading=False)
        if text[:1] in _MINUS_SIGNS or text[:1] == "+":
            indicators.append(SignIndicator.PLUS if text[0] == "+" else SignIndicator.MINUS)
            text = text[1:].lstrip(WHITESPACE)
        if text[-1:] in _MINUS_SIGNS:
            indicators.append(SignIndicator.TRAILING_MINUS)
            text = text[:-1].rstrip(WHITESPACE)
        if text == before:
            break
    if not _NUMBER_CORE.match(text):
        raise ValueRejected(ErrorCode.AMOUNT_INVALID, f"{raw!r} is not an amount")
    if len(indicators) > 1:
        names = " and ".join(i.value for i in indicators)
        raise ValueRejected(ErrorCode.AMOUNT_INVALID, f"{raw!r} has more than one sign ({names})")
    return AmountParts(core=text, indicator=indicators[0] if indicators else None, currency_token=currency)


def _grouped(int_part: str, allowed: frozenset[str]) -> str | None:
    """Digits of a thousands-grouped integer part, or None when the grouping is not valid."""
    marks = {c for c in int_part if not c.isascii() or not c.isdigit()}
    if len(marks) != 1:
        return None
    (mark,) = marks
    if mark not in allowed:
        return None
    groups = int_part.split(mark)
    head, tail = groups[0], groups[1:]
    # A leading zero group ("0,123") is never thousands grouping.
    if not (1 <= len(head) <= 3 and head[0] != "0" and _DIGITS.match(head)):
        return None
    if not all(len(g) == 3 and _DIGITS.match(g) for g in tail):
        return None
    return "".join(groups)


def number_to_plain(core: str, fmt: NumberFormat, raw: str, origin: str | None = None) -> tuple[str, str]:
    """(integer digits, fraction digits) of a bare number written in `fmt`; raises if it doesn't fit."""
    def mismatch() -> ValueRejected:
        where = f", {origin}" if origin else ""
        return ValueRejected(ErrorCode.AMOUNT_INVALID,
                             f"{raw!r} does not match the column's number format ({fmt.describe()}{where})")

    separator = fmt.decimal
    fraction = ""
    int_part = core
    if separator is not None and separator in core:
        if core.count(separator) > 1:
            raise mismatch()
        int_part, _, fraction = core.partition(separator)
        if not _DIGITS.match(fraction):
            raise mismatch()
        if int_part == "":
            int_part = "0"
    if _DIGITS.match(int_part):
        digits = int_part
    else:
        grouped = _grouped(int_part, fmt.allowed_thousands())
        if grouped is None:
            raise mismatch()
        digits = grouped
    return digits, fraction


def parse_amount(raw: str, fmt: NumberFormat, *, origin: str | None = None) -> ParsedAmount:
    """`origin` says where the format came from, for the error message ("inferred from line 7: '1,5'")."""
    parts = split_amount(raw)
    digits, fraction = number_to_plain(parts.core, fmt, raw, origin)
    digits = digits.lstrip("0") or "0"
    if len(digits) + len(fraction) > MAX_DIGITS:
        raise ValueRejected(ErrorCode.AMOUNT_TOO_LARGE, f"{raw!r} has more than {MAX_DIGITS} digits")
    unsigned = f"{digits}.{fraction}" if fraction else digits
    negative = parts.indicator in _NEGATIVE_INDICATORS and unsigned.strip("0.") != ""
    text = f"-{unsigned}" if negative else unsigned
    return ParsedAmount(value=Decimal(text), text=text, currency_token=parts.currency_token,
                        indicator=parts.indicator)


def separator_evidence(raw: str) -> SeparatorEvidence:
    """What one value says about the column's decimal separator, independent of any format."""
    try:
        core = split_amount(raw).core
    except ValueRejected:
        return SeparatorEvidence.NONE
    has_dot, has_comma = "." in core, "," in core
    if has_dot and has_comma:
        last = max(core.rfind("."), core.rfind(","))
        separator = core[last]
        # The decimal separator appears once, after every grouping mark.
        if core.count(separator) != 1:
            return SeparatorEvidence.NONE
        return SeparatorEvidence(separator)
    if not (has_dot or has_comma):
        return SeparatorEvidence.NONE
    mark = "." if has_dot else ","
    other = SeparatorEvidence.COMMA_DECIMAL if mark == "." else SeparatorEvidence.DOT_DECIMAL
    if core.count(mark) > 1:
        return other  # repeated mark = thousands grouping
    int_part, _, fraction = core.partition(mark)
    if len(fraction) != 3 or not _DIGITS.match(fraction):
        return SeparatorEvidence(mark)
    if not _DIGITS.match(int_part):
        return SeparatorEvidence(mark)  # "1'234.567": another mark already groups the thousands
    if int_part == "" or int_part[0] == "0" or len(int_part) > 3:
        return SeparatorEvidence(mark)
    return SeparatorEvidence.AMBIGUOUS
