"""Markdown tables from the accumulated benchmark records (``bench/results/matching.json``)."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from typing import Any

Record = dict[str, Any]
WORKLOAD_ORDER = ("exact", "fuzzy", "scale", "aggregate", "splink")


def _size(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1_000 and rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return f"{rows:,}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def _gb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e9:.2f} GB"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _blocking(record: Record) -> str:
    if record.get("blocking_recall") is None and record.get("blocking_recall_lower_bound") is not None:
        return f">= {_pct(record['blocking_recall_lower_bound'])}"
    return _pct(record.get("blocking_recall"))


def _seconds(record: Record) -> str:
    times = record["seconds"]
    return f"{statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f})"


def _ratio(record: Record, baseline: Record | None) -> str:
    if baseline is None or baseline is record:
        return "baseline" if baseline is record else "-"
    ours = statistics.median(record["seconds"])
    theirs = statistics.median(baseline["seconds"])
    return f"{theirs / ours:.2f}x faster" if ours <= theirs else f"{ours / theirs:.2f}x slower"


def _baseline_for(record: Record, records: Iterable[Record]) -> Record | None:
    for other in records:
        if (other["workload"] == record["workload"] and other["rows"] == record["rows"]
                and other["system"] == record["baseline"] and other["seed"] == record["seed"]):
            return other
    return None


def _sorted(records: list[Record]) -> list[Record]:
    def key(record: Record) -> tuple[int, int, int, str]:
        workload = WORKLOAD_ORDER.index(record["workload"]) if record["workload"] in WORKLOAD_ORDER else 99
        is_baseline = 0 if record["system"] == record["baseline"] else 1
        return workload, record["rows"], is_baseline, record["system"]
    return sorted(records, key=key)


def results_table(records: list[Record]) -> str:
    columns = ("workload", "size (left x right)", "system", "time, median (min-max)", "vs baseline",
               "candidates", "blocking recall", "precision", "recall", "review", "peak RSS", "cores")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in _sorted(records):
        lines.append(
            f"| {record['workload']} | {_size(record['left_rows'])} x {_size(record['right_rows'])} "
            f"| {record['system']} | {_seconds(record)} | {_ratio(record, _baseline_for(record, records))} "
            f"| {_count(record.get('candidates'))} | {_blocking(record)} "
            f"| {_pct(record.get('precision'))} | {_pct(record.get('recall'))} "
            f"| {_count(record.get('review_links'))} | {_gb(record.get('peak_rss_bytes'))} "
            f"| {record['cores']} |")
    return "\n".join(lines)


def scale_table(records: list[Record]) -> str:
    """Time growth per 10x rows, per system, from the ``scale`` workload's records."""
    lines = ["| system | sizes | times (median) | growth per 10x rows | candidates |", "|---|---|---|---|---|"]
    by_system: dict[str, list[Record]] = {}
    for record in records:
        if record["workload"] == "scale":
            by_system.setdefault(record["system"], []).append(record)
    for record in records:  # the largest point is usually the fuzzy workload's own run
        points = by_system.get(record["system"], [])
        if record["workload"] == "fuzzy" and points and record["rows"] not in {p["rows"] for p in points}:
            points.append(record)
    for system, points in sorted(by_system.items()):
        points.sort(key=lambda r: r["rows"])
        medians = [statistics.median(p["seconds"]) for p in points]
        growth = [f"{b / a:.1f}x" for a, b in itertools.pairwise(medians)]
        lines.append(
            f"| {system} | {' → '.join(_size(p['rows']) for p in points)} "
            f"| {' → '.join(f'{m:.2f} s' for m in medians)} | {', '.join(growth) or '-'} "
            f"| {' → '.join(_count(p.get('candidates')) for p in points)} |")
    return "\n".join(lines)


def stage_table(records: list[Record]) -> str:
    lines = ["| workload | size | system | stages (median seconds) |", "|---|---|---|---|"]
    for record in _sorted(records):
        stages: dict[str, list[float]] = {}
        for run in record.get("stages", []):
            for name, seconds in run.items():
                stages.setdefault(name, []).append(seconds)
        text = ", ".join(f"{name} {statistics.median(values):.2f}" for name, values in stages.items())
        lines.append(f"| {record['workload']} | {_size(record['rows'])} | {record['system']} | {text or '-'} |")
    return "\n".join(lines)


def _find(records: list[Record], workload: str, system: str, rows: int) -> Record | None:
    return next((r for r in records if r["workload"] == workload and r["system"] == system
                 and r["rows"] == rows), None)


def _verdict(passed: bool) -> str:
    return "met" if passed else "**missed**"


def summary_rows(records: list[Record], rows: int = 1_000_000) -> str:
    """The issue's targets against the engine's figures at ``rows`` per side (rows for bench/README.md)."""
    lines: list[str] = []
    command = "`uv run python bench/matching/run.py --workload {}`"
    exact = _find(records, "exact", "engine_exact", rows)
    if exact:
        seconds = statistics.median(exact["seconds"])
        recall = exact.get("blocking_recall")
        lines.append(f"| matching | exact 1:1, {_size(rows)} x {_size(rows)} | <= 3 s at 100 % blocking recall "
                     f"| {seconds:.2f} s, blocking recall {_blocking(exact)} "
                     f"| {_verdict(seconds <= 3 and recall == 1.0)} | {command.format('exact')} |")
    fuzzy = _find(records, "fuzzy", "engine_fuzzy", rows)
    if fuzzy:
        seconds = statistics.median(fuzzy["seconds"])
        met = (seconds <= 6 and fuzzy["precision"] >= 0.985 and fuzzy["recall"] >= 0.91
               and fuzzy["peak_rss_bytes"] <= 1.5e9)
        lines.append(f"| matching | fuzzy headline, {_size(rows)} x {_size(rows)} "
                     f"| <= 6 s, P >= 98.5 %, R >= 91 %, RSS <= 1.5 GB "
                     f"| {seconds:.2f} s, P {_pct(fuzzy['precision'])}, R {_pct(fuzzy['recall'])}, "
                     f"RSS {_gb(fuzzy['peak_rss_bytes'])} | {_verdict(met)} | {command.format('fuzzy')} |")
    points = sorted((r for r in records if r["workload"] == "scale" and r["system"] == "engine_fuzzy"),
                    key=lambda r: r["rows"])
    fuzzy_point = _find(records, "fuzzy", "engine_fuzzy", rows)
    if points and fuzzy_point and rows not in {p["rows"] for p in points}:
        points.append(fuzzy_point)
    if len(points) >= 2:
        medians = [statistics.median(p["seconds"]) for p in points]
        growth = [b / a for a, b in itertools.pairwise(medians)]
        lines.append(f"| matching | scale curve {' -> '.join(_size(p['rows']) for p in points)} "
                     f"| <= 12x time per 10x rows | {', '.join(f'{g:.1f}x' for g in growth)} "
                     f"| {_verdict(all(g <= 12 for g in growth))} | {command.format('scale')} |")
    aggregate = _find(records, "aggregate", "engine_aggregate", rows)
    if aggregate:
        lines.append(f"| matching | aggregate, {_size(aggregate['left_rows'])} invoices x "
                     f"{_size(aggregate['right_rows'])} payments | report time and precision "
                     f"| {statistics.median(aggregate['seconds']):.2f} s, P {_pct(aggregate['precision'])}, "
                     f"R {_pct(aggregate['recall'])} | reported | {command.format('aggregate')} |")
    for splink in (r for r in records if r["workload"] == "splink" and r["system"] == "splink_fuzzy"):
        ours = _find(records, "splink", "engine_fuzzy", splink["rows"])
        if ours:
            splink_command = command.format(f"splink --splink-rows {splink['rows']}")
            theirs = statistics.median(splink["seconds"])
            ratio = theirs / statistics.median(ours["seconds"])
            lines.append(f"| matching | vs Splink 5, fuzzy {_size(splink['rows'])} x {_size(splink['rows'])} "
                         f"| ratio | Splink {theirs:.1f} s (P {_pct(splink['precision'])}, "
                         f"R {_pct(splink['recall'])}) / ours {statistics.median(ours['seconds']):.1f} s "
                         f"(P {_pct(ours['precision'])}, R {_pct(ours['recall'])}) = {ratio:.1f}x "
                         f"| reported | {splink_command} |")
    return "\n".join(lines)
