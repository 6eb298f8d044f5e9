"""Delimiter sniffing and header-row detection on a text sample (bank exports put titles above the table)."""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from files.domain.amounts import WHITESPACE, SeparatorEvidence, separator_evidence
from files.domain.dates import DateEvidence, date_evidence

DELIMITERS = (",", ";", "\t", "|")
QUOTE = '"'
SAMPLE_LINES = 500


@dataclass(frozen=True, slots=True)
class TableLayout:
    columns: tuple[str, ...]
    header_line: int | None  # None: the file has no header row; columns are column_1..column_N
    first_data_line: int  # physical line where data may start (after preamble and header)
    preamble_lines: tuple[int, ...]  # non-blank lines skipped above the table


def split_lines(text: str, limit: int | None = None) -> list[str]:
    """Lines ending in "\\n" (kept), the way every CSV path here counts physical lines."""
    lines = text.split("\n")
    keep = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        keep.append(lines[-1])
    return keep if limit is None else keep[:limit]


def parse_sample_rows(lines: Sequence[str], delimiter: str) -> list[tuple[int, list[str]]]:
    """(line, fields) per record; multi-line records are numbered by their first line."""
    reader = csv.reader(lines, delimiter=delimiter, quotechar=QUOTE, strict=False)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for fields in reader:
            rows.append((start, fields))
            start = reader.line_num + 1
    except csv.Error:
        pass  # the sample is only for sniffing; the real pass reports malformed records
    return rows


def _modal_width(rows: Sequence[tuple[int, list[str]]]) -> tuple[int, int]:
    """(width, how many rows have it) among rows with at least one non-empty cell; ties -> wider."""
    widths = Counter(len(fields) for _, fields in rows if any(f.strip(WHITESPACE) for f in fields))
    if not widths:
        return 0, 0
    return max(widths.items(), key=lambda item: (item[1], item[0]))


def sniff_delimiter(lines: Sequence[str], *, prefer_tab: bool = False) -> str:
    """The delimiter that explains the most separators consistently: rows at the modal width times
    (width - 1). A decimal comma splits every amount once; the real delimiter splits every row more.
    A candidate must give its modal width to at least half the non-blank lines."""
    non_blank = sum(1 for line in lines if line.strip())
    # A one-column file still needs a delimiter: take one its values never contain.
    best = next((d for d in DELIMITERS if not any(d in line for line in lines)), ",")
    best_score = (0, 0, 0, 0)
    for delimiter in DELIMITERS:
        # Line by line: one unterminated quote must not swallow the rest of the sample.
        rows = [(n, _cells(line, delimiter)) for n, line in enumerate(lines, start=1)]
        width, count = _modal_width(rows)
        if width < 2 or 2 * count < non_blank:
            continue
        score = (count * (width - 1), count, width, 1 if prefer_tab and delimiter == "\t" else 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _cells(line: str, delimiter: str) -> list[str]:
    """One sample line split by a candidate delimiter; a line that candidate cannot split (a lone CR in
    what is, for it, an unquoted field) simply does not vote for it."""
    try:
        return next(csv.reader([line], delimiter=delimiter, quotechar=QUOTE), [])
    except csv.Error:
        return []


def _looks_like_value(cell: str) -> bool:
    text = cell.strip(WHITESPACE)
    if not text:
        return False
    if text.replace(".", "").replace(",", "").replace("-", "").isdigit():
        return True
    if separator_evidence(text) is not SeparatorEvidence.NONE:
        return True
    return date_evidence(text) is not DateEvidence.INVALID


def column_names(cells: Sequence[str]) -> tuple[str, ...]:
    names: list[str] = []
    seen: Counter[str] = Counter()
    for index, cell in enumerate(cells, start=1):
        name = cell.strip(WHITESPACE) or f"column_{index}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return tuple(names)


def detect_layout(rows: Sequence[tuple[int, list[str]]], *, header_line: int | None,
                  has_header: bool | None) -> TableLayout | None:
    """Find the header (or the first data row) in the sample; None when the sample holds no table."""
    non_blank = [(line, fields) for line, fields in rows if any(f.strip(WHITESPACE) for f in fields)]
    if not non_blank:
        return None
    if header_line is not None:
        for line, fields in non_blank:
            if line == header_line:
                preamble = tuple(ln for ln, _ in non_blank if ln < line)
                return TableLayout(column_names(fields), line, line + 1, preamble)
        return None
    if has_header is False:
        first_line, first = non_blank[0]
        width = max(len(f) for _, f in non_blank)
        names = tuple(f"column_{i}" for i in range(1, max(width, len(first)) + 1))
        return TableLayout(names, None, first_line, ())
    width, _ = _modal_width(non_blank)
    filled = [sum(1 for f in fields if f.strip(WHITESPACE)) for _, fields in non_blank]
    fullest = max(n for n, (_, fields) in zip(filled, non_blank, strict=True) if len(fields) == width)
    needed = max(1, math.ceil(0.75 * fullest))
    for index, (line, fields) in enumerate(non_blank):
        if len(fields) != width or filled[index] < needed:
            continue
        preamble = tuple(ln for ln, _ in non_blank[:index])
        if has_header is None and any(_looks_like_value(cell) for cell in fields):
            names = tuple(f"column_{i}" for i in range(1, width + 1))
            return TableLayout(names, None, line, preamble)
        return TableLayout(column_names(fields), line, line + 1, preamble)
    return None
