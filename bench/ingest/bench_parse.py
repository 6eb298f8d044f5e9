"""Parse + normalise throughput of files.domain.parse_file on a 1,000,000-row, ~100 MB CSV.

    uv run python bench/ingest/bench_parse.py [--rows N] [--cores 1,2] [--repeat K] [--json OUT]

The CSV comes from bench/ingest/datagen.py (the same file the end-to-end ingest benchmark uploads):
semicolons, decimal commas with thousands dots, DD/MM/YYYY dates, 8 mapped columns. Each measurement
runs in a fresh subprocess pinned to N cores (CPU affinity, and polars' thread pool sized to match,
before polars is imported), so peak RSS is the parser's alone; it consumes every chunk exactly as
storage would: frame built, fingerprints and occurrences computed, nothing written. Reported: rows/s
by wall clock and per CPU-second, peak RSS, and a pure-Python calibration loop so figures from
different machines can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402 - sibling module, importable once HERE is on the path


def calibration_seconds() -> float:
    """A fixed pure-Python workload: run it on two machines to compare their single-core speed."""
    start = time.process_time()
    total = 0
    for value in range(2_000_000):
        total += value & 7
    return time.process_time() - start


def measure(path: Path, rows: int) -> dict[str, float | int | str]:
    from decimal import Decimal

    from files.domain import ColumnMapping, ParseOptions, parse_file

    mapping = ColumnMapping.model_validate(datagen.MAPPING)
    wall, cpu = time.perf_counter(), time.process_time()
    accepted, chunks, first = 0, 0, None
    with path.open("rb") as stream:
        for chunk in parse_file(stream, filename=path.name, mapping=mapping, options=ParseOptions()):
            chunks += 1
            accepted += chunk.frame.height
            if first is None and chunk.frame.height:
                first = chunk.frame.row(0, named=True)
            summary = chunk.summary
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if summary is None or summary.status != "accepted" or not accepted == rows == summary.rows_accepted:
        raise SystemExit(f"parse did not accept every row: {summary}")
    expected = datagen.rows(1, 42)[0].split(";")
    if first is None or Decimal(first["amount"]) != Decimal(expected[2].replace(".", "").replace(",", ".")):
        raise SystemExit(f"first row {first} does not match the generator's {expected}")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": rows, "chunks": chunks, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "rows_per_s": round(rows / wall), "rows_per_cpu_s": round(rows / cpu),
            "peak_rss_mb": round(peak_kib / 1024, 1)}


def run_child(path: Path, rows: int, cores: int) -> dict[str, float | int | str]:
    env = dict(os.environ, POLARS_MAX_THREADS=str(cores))
    completed = subprocess.run(
        [sys.executable, __file__, "--measure", str(path), "--rows", str(rows), "--cores", str(cores)],
        env=env, capture_output=True, text=True, check=True)
    result: dict[str, float | int | str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cores", default="1,2", help="core counts to measure (CPU affinity)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        cores = int(args.cores)
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
        result = measure(args.measure, args.rows)
        result["cores"] = cores
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as directory:
        path = Path(directory) / "statement.csv"
        size = datagen.write_csv(path, args.rows)
        print(f"{args.rows:,} rows, {size / 1e6:.1f} MB, calibration loop {calibration_seconds():.3f} s "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        report = []
        for cores in [int(c) for c in args.cores.split(",") if c.strip()]:
            runs = [run_child(path, args.rows, cores) for _ in range(args.repeat)]
            best = max(runs, key=lambda r: float(r["rows_per_s"]))
            median_rate = statistics.median(float(r["rows_per_s"]) for r in runs)
            print(f"{cores} core(s): best {best['rows_per_s']:,} rows/s (wall {best['wall_s']} s, "
                  f"cpu {best['cpu_s']} s, {best['rows_per_cpu_s']:,} rows/cpu-s), median {median_rate:,.0f} rows/s, "
                  f"peak RSS {max(float(r['peak_rss_mb']) for r in runs)} MB")
            report.append({"cores": cores, "runs": runs})
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": args.rows, "bytes": size, "results": report}, indent=2))


if __name__ == "__main__":
    main()
