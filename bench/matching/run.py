"""Matching benchmark: our engine against plain DuckDB/Polars and Splink, on data with known truth.

    uv run python bench/matching/run.py --workload exact|fuzzy|scale|aggregate|splink|all \\
        [--rows N] [--repeat K] [--systems a,b] [--splink-rows N] [--seed S]

Every run of a system is a fresh subprocess (``measure.py``) that loads the Parquet inputs, runs
the system once and reports its wall time and its own peak RSS; the K runs of the systems of one
workload are interleaved (A, B, C, A, B, C, ...) so that load from other users of this shared
machine falls on all of them alike. The 1-minute load average before each run is kept. Quality is
scored here against the generator's truth. Results accumulate in ``bench/results/matching.json``
(one record per workload x system x size x seed, newest wins), and the tables printed at the end are
rebuilt from that file, so the workloads can be run one at a time on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import baselines
import datagen
import evaluate
import polars as pl
import report
from workloads import WORKLOADS, Workload, condition_blocking_recall

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE.parent / "results"
DATA_DIR = RESULTS_DIR / "data"
RESULTS_FILE = RESULTS_DIR / "matching.json"
CORES = 2
SCALE_SIZES = (10_000, 100_000)
WINDOW_SYSTEMS = {"duckdb_fuzzy", "splink_fuzzy"}  # score every pair of the ±1 cent / ±3 day window


def dataset_dir(scenario: str, rows: int, seed: int) -> Path:
    """Generate once and cache; the cache key is the generator's full input."""
    directory = DATA_DIR / f"{scenario}-{rows}-s{seed}"
    if not (directory / "truth.parquet").exists():
        print(f"  generating {scenario} {rows:,} (seed {seed}) ...", flush=True)
        datagen.generate(scenario, rows, seed).save(directory)
    return directory


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(POLARS_MAX_THREADS=str(CORES), RAYON_NUM_THREADS=str(CORES), OMP_NUM_THREADS=str(CORES))
    return env


def run_measurement(system: str, data: Path, out: Path, repeat: int) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "measure.py"), system, str(data), str(out), "--repeat", str(repeat)]
    process = subprocess.Popen(command, env=child_environment())
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{system} on {data.name} failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    result["peak_rss_process_bytes"] = usage.ru_maxrss * 1024
    return result


def score(workload: Workload, system: str, data: Path, out: Path, measured: dict[str, Any]) -> dict[str, Any]:
    dataset = datagen.MatchingDataset.load(data)
    pairs = pl.read_parquet(out / "pairs.parquet")
    quality: dict[str, Any] = evaluate.link_quality(pairs, dataset.truth)
    if workload.scenario == "aggregate":
        quality.update(evaluate.group_quality(pairs, dataset.truth))
    review_file = out / "review.parquet"
    if review_file.exists():
        review = pl.read_parquet(review_file)
        quality["review_links"] = review.height
        quality["recall_with_review"] = evaluate.link_quality(pl.concat([pairs, review]), dataset.truth)["recall"]
    blocking: float | None = condition_blocking_recall(workload, dataset.left, dataset.right, dataset.truth)
    nearest_file = out / "nearest.parquet"
    if nearest_file.exists():
        # Every link the engine matched, proposed or named as the nearest miss was a candidate.
        seen = pl.concat([pairs, *(pl.read_parquet(f) for f in (review_file, nearest_file) if f.exists())])
        quality["blocking_recall_lower_bound"] = evaluate.blocking_recall(seen, dataset.truth)
    candidates_file = out / "candidates.parquet"
    if candidates_file.exists():
        # Re-blocked hot records, split blocks or adaptive blocking: measured on the real candidates.
        blocking = evaluate.blocking_recall(pl.read_parquet(candidates_file), dataset.truth)
    candidates = measured.get("candidates")
    if candidates is None and system in WINDOW_SYSTEMS:
        candidates = baselines.count_window_candidates(dataset.left, dataset.right)
    return {**quality, "blocking_recall": blocking, "candidates": candidates,
            "left_rows": dataset.left.height, "right_rows": dataset.right.height}


def engine_fingerprint() -> str:
    """Hash of the engine's source, so a figure can be tied to the code that produced it even
    before that code is committed."""
    digest = hashlib.sha256()
    for source in sorted((HERE.parents[1] / "services" / "matcher" / "src" / "matcher" / "domain").glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def measure_interleaved(workload: Workload, systems: list[str], data: Path,
                        rounds: int) -> dict[tuple[str, Path], dict[str, Any]]:
    """``rounds`` rounds of one fresh process per system, in turn, so that load from other users of
    the machine falls on every system alike; the record keeps every round's time and the largest RSS."""
    merged: dict[str, dict[str, Any]] = {}
    for round_number in range(1, rounds + 1):
        for system in systems:
            out = RESULTS_DIR / "runs" / f"{system}-{data.name}"
            load = os.getloadavg()[0]
            print(f"[{workload.name}] round {round_number}/{rounds}: {system} on {data.name} "
                  f"(load {load:.1f})", flush=True)
            result = run_measurement(system, data, out, repeat=1)
            result["load_average_1m"] = [load]
            if system not in merged:
                merged[system] = result
                continue
            kept = merged[system]
            for key in ("seconds", "stages", "load_average_1m"):
                kept[key] = kept[key] + result[key]
            for key in ("peak_rss_bytes", "peak_rss_process_bytes", "rss_after_load_bytes"):
                kept[key] = max(kept[key], result[key])
    scored: dict[tuple[str, Path], dict[str, Any]] = {}
    for system, result in merged.items():
        out = RESULTS_DIR / "runs" / f"{system}-{data.name}"
        result.update(score(workload, system, data, out, result))
        scored[(system, data)] = result
    return scored


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    packages = ("polars", "duckdb", "rapidfuzz", "numpy", "scipy", "splink", "matcher")
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {"cpu": cpu, "vcpus": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1),
            "python": platform.python_version(), "threads": CORES, "versions": versions}


def load_records() -> list[dict[str, Any]]:
    if RESULTS_FILE.exists():
        return list(json.loads(RESULTS_FILE.read_text())["records"])
    return []


def save_records(records: list[dict[str, Any]]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps({"machine": machine(), "records": records}, indent=2))


def upsert(records: list[dict[str, Any]], record: dict[str, Any]) -> None:
    key = ("workload", "system", "rows", "seed")
    records[:] = [r for r in records if tuple(r[k] for k in key) != tuple(record[k] for k in key)]
    records.append(record)


def sizes_for(workload: Workload, args: argparse.Namespace) -> list[int]:
    if workload.name == "scale":
        return sorted({*SCALE_SIZES, args.rows})
    if workload.name == "splink":
        return [args.splink_rows]
    return [args.rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per side (aggregate: invoices)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--splink-rows", type=int, default=100_000)
    parser.add_argument("--systems", default="", help="comma-separated subset of the workload's systems")
    parser.add_argument("--table-only", action="store_true", help="print the tables from saved results")
    args = parser.parse_args()

    records = load_records()
    selected = list(WORKLOADS.values()) if args.workload == "all" else [WORKLOADS[args.workload]]
    wanted = {s for s in args.systems.split(",") if s}
    measured_here: dict[tuple[str, Path], dict[str, Any]] = {}
    for workload in [] if args.table_only else selected:
        for rows in sizes_for(workload, args):
            data = dataset_dir(workload.scenario, rows, args.seed)
            systems = [s for s in workload.systems if (not wanted or s in wanted)]
            fresh = [s for s in systems if (s, data) not in measured_here]  # scale's 1M point = fuzzy run
            measured_here.update(measure_interleaved(workload, fresh, data, args.repeat))
            for system in systems:
                record = {**measured_here[(system, data)], "workload": workload.name, "rows": rows,
                          "seed": args.seed, "baseline": workload.baseline, "cores": CORES,
                          "engine_source": engine_fingerprint(),
                          "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                upsert(records, record)
                save_records(records)

    print("\n" + report.summary_rows(records, args.rows))
    print("\n" + report.results_table(records))
    print("\n" + report.scale_table(records))
    print("\n" + report.stage_table(records))


if __name__ == "__main__":
    main()
