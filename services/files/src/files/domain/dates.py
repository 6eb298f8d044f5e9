"""Date parsing without guessing: each value's shape says which readings are possible.

Shapes: ISO (YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD), YYYYMMDD, DD.MM.YYYY, DD-Mon-YYYY / Mon DD, YYYY,
and the order-dependent D/M/Y or M/D/Y with "/" or "-". Two-digit years pivot like POSIX %y:
00-68 -> 2000-2068, 69-99 -> 1969-1999. A time after the date is allowed and ignored; the date is
taken as written (no time-zone shift).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from files.domain.amounts import WHITESPACE
from files.domain.errors import ErrorCode, ValueRejected

MIN_YEAR, MAX_YEAR = 1900, 2199  # outside this a date is a placeholder (0001-01-01) or a typo

MONTHS: dict[str, int] = {
    "jan": 1, "january": 1, "januar": 1, "feb": 2, "february": 2, "februar": 2, "mar": 3, "march": 3,
    "mär": 3, "mrz": 3, "märz": 3, "apr": 4, "april": 4, "may": 5, "mai": 5, "jun": 6, "june": 6,
    "juni": 6, "jul": 7, "july": 7, "juli": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "okt": 10, "oktober": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12, "dez": 12, "dezember": 12,
}

# A trailing time (with optional seconds, fraction, AM/PM and zone) that the date ignores.
_TIME = (r"(?:(?:T|[ \t]+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[ \t]?[AaPp][Mm])?"
         r"(?:Z|[ \t]?[+-]\d{2}(?::?\d{2})?)?)?")
_YEAR_FIRST = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME + "$")
_COMPACT8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_COMPACT6 = re.compile(r"^\d{6}$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})" + _TIME + "$")
_NUMERIC = re.compile(r"^(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME + "$")
_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})\.?[-\s/]?([^\W\d_]{3,9})\.?[-\s/,]*(\d{4}|\d{2})" + _TIME + "$")
_MONTH_NAME_DAY = re.compile(r"^([^\W\d_]{3,9})\.?[-\s]+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})" + _TIME + "$")


class DateOrder(StrEnum):
    DAY_FIRST = "DD/MM/YYYY"
    MONTH_FIRST = "MM/DD/YYYY"


class DateEvidence(StrEnum):
    SELF_DESCRIBING = "self_describing"  # one reading only (ISO, dotted, month names, equal parts)
    DAY_FIRST = "day_first"  # "25/01/2024": only DD/MM works
    MONTH_FIRST = "month_first"  # "01/25/2024": only MM/DD works
    AMBIGUOUS = "ambiguous"  # "05/01/2024", "050124": both readings valid
    INVALID = "invalid"


def full_year(digits: str) -> int:
    year = int(digits)
    if len(digits) == 2:
        return 2000 + year if year <= 68 else 1900 + year
    return year


def make_date(year: int, month: int, day: int, raw: str) -> date:
    try:
        value = date(year, month, day)
    except ValueError:
        raise ValueRejected(ErrorCode.DATE_INVALID, f"{raw!r} is not a calendar date") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueRejected(ErrorCode.DATE_OUT_OF_RANGE,
                            f"{raw!r} is outside the accepted years {MIN_YEAR}-{MAX_YEAR}")
    return value


def _month_number(name: str, raw: str) -> int:
    month = MONTHS.get(name.lower())
    if month is None:
        raise ValueRejected(ErrorCode.DATE_INVALID, f"{raw!r} has an unknown month name {name!r}")
    return month


def _self_describing(text: str, raw: str) -> date | None:
    if m := _YEAR_FIRST.match(text):
        return make_date(int(m[1]), int(m[3]), int(m[4]), raw)
    if m := _COMPACT8.match(text):
        return make_date(int(m[1]), int(m[2]), int(m[3]), raw)
    if m := _DOTTED.match(text):
        return make_date(full_year(m[3]), int(m[2]), int(m[1]), raw)
    if m := _DAY_MONTH_NAME.match(text):
        return make_date(full_year(m[3]), _month_number(m[2], raw), int(m[1]), raw)
    if m := _MONTH_NAME_DAY.match(text):
        return make_date(int(m[3]), _month_number(m[1], raw), int(m[2]), raw)
    return None


def date_evidence(raw: str) -> DateEvidence:
    text = raw.strip(WHITESPACE)
    try:
        if _self_describing(text, raw) is not None:
            return DateEvidence.SELF_DESCRIBING
    except ValueRejected:
        return DateEvidence.INVALID
    if _COMPACT6.match(text):
        return DateEvidence.AMBIGUOUS
    m = _NUMERIC.match(text)
    if m is None:
        return DateEvidence.INVALID
    first, second = int(m[1]), int(m[3])
    if first == second and 1 <= first <= 12:
        return DateEvidence.SELF_DESCRIBING
    if first > 12 and 1 <= second <= 12:
        return DateEvidence.DAY_FIRST
    if second > 12 and 1 <= first <= 12:
        return DateEvidence.MONTH_FIRST
    if 1 <= first <= 12 and 1 <= second <= 12:
        return DateEvidence.AMBIGUOUS
    return DateEvidence.INVALID


def parse_date(raw: str, order: DateOrder | None) -> date:
    """Parse with the column's order; order=None accepts only values with a single possible reading."""
    text = raw.strip(WHITESPACE)
    value = _self_describing(text, raw)
    if value is not None:
        return value
    if _COMPACT6.match(text):
        raise ValueRejected(ErrorCode.DATE_FORMAT_AMBIGUOUS,
                            f"{raw!r} could be YYMMDD or DDMMYY; set the column's date format")
    m = _NUMERIC.match(text)
    if m is None:
        raise ValueRejected(ErrorCode.DATE_INVALID, f"{raw!r} is not a date")
    first, second, year = int(m[1]), int(m[3]), full_year(m[4])
    if order is None:
        evidence = date_evidence(raw)
        if evidence is DateEvidence.AMBIGUOUS:
            raise ValueRejected(ErrorCode.DATE_FORMAT_AMBIGUOUS,
                                f"{raw!r} could be DD/MM or MM/DD; set the column's date format")
        order = DateOrder.MONTH_FIRST if evidence is DateEvidence.MONTH_FIRST else DateOrder.DAY_FIRST
    day, month = (first, second) if order is DateOrder.DAY_FIRST else (second, first)
    try:
        return make_date(year, month, day, raw)
    except ValueRejected as rejected:
        if rejected.code is ErrorCode.DATE_INVALID:
            raise ValueRejected(ErrorCode.DATE_INVALID,
                                f"{raw!r} is not a valid {order.value} date") from None
        raise


@dataclass(frozen=True, slots=True)
class ExplicitDateFormat:
    """A format the user gave, e.g. "DD/MM/YYYY", "YYMMDD", "D. MMMM YYYY" or a strptime "%d/%m/%Y"."""

    pattern: str
    regex: re.Pattern[str]
    fields: tuple[str, ...]


_TOKENS = ("YYYY", "MMMM", "MMM", "YY", "MM", "DD", "M", "D")
_TOKEN_REGEX = {"YYYY": r"(\d{4})", "YY": r"(\d{2})", "MMMM": r"([^\W\d_]{3,9})", "MMM": r"([^\W\d_]{3,4})",
                "MM": r"(\d{1,2})", "M": r"(\d{1,2})", "DD": r"(\d{1,2})", "D": r"(\d{1,2})"}
_STRPTIME_TOKENS = {"%Y": "YYYY", "%y": "YY", "%m": "MM", "%d": "DD", "%b": "MMM", "%B": "MMMM"}


def compile_date_format(pattern: str) -> ExplicitDateFormat:
    template = pattern
    for directive, token in _STRPTIME_TOKENS.items():
        template = template.replace(directive, token)
    if "%" in template:
        raise ValueError(f"date format {pattern!r} uses a directive other than %Y %y %m %d %b %B")
    upper = template.upper()
    pieces: list[str | None] = []  # None marks a token, resolved below once we know if it's compact
    fields: list[str] = []
    position = 0
    while position < len(upper):
        found = next((t for t in _TOKENS if upper.startswith(t, position)), None)
        if found is None:
            char = template[position]
            pieces.append(r"[ \t]+" if char == " " else re.escape(char))
            position += 1
            continue
        pieces.append(None)
        fields.append(found)
        position += len(found)
    # Without separators ("YYYYMMDD", "DDMMYY") day and month must be two digits to split unambiguously.
    compact = all(p is None for p in pieces)
    tokens = iter(fields)
    regex = ""
    for piece in pieces:
        if piece is not None:
            regex += piece
            continue
        token = next(tokens)
        regex += r"(\d{2})" if compact and token in ("MM", "M", "DD", "D") else _TOKEN_REGEX[token]
    kinds = {f[0] for f in fields}
    if kinds != {"Y", "M", "D"} or len(fields) != 3:
        raise ValueError(f"date format {pattern!r} needs exactly one day, one month and one year")
    return ExplicitDateFormat(pattern=pattern, regex=re.compile("^" + regex + _TIME + "$"), fields=tuple(fields))


def parse_date_explicit(raw: str, fmt: ExplicitDateFormat) -> date:
    match = fmt.regex.match(raw.strip(WHITESPACE))
    if match is None:
        raise ValueRejected(ErrorCode.DATE_INVALID, f"{raw!r} does not match the date format {fmt.pattern!r}")
    year = month = day = 0
    for token, text in zip(fmt.fields, match.groups(), strict=True):
        if token in ("YYYY", "YY"):
            year = full_year(text)
        elif token in ("MMM", "MMMM"):
            month = _month_number(text, raw)
        elif token[0] == "M":
            month = int(text)
        else:
            day = int(text)
    return make_date(year, month, day, raw)
