"""Where the engine spends its time on one benchmark workload (cProfile; pyinstrument is not installed).

    uv run python bench/matching/profile_engine.py fuzzy --rows 100000 [--top 35]

Writes ``bench/results/profiles/<workload>-<rows>.prof`` (open with ``python -m pstats`` or snakeviz)
and prints the engine's own stage timings plus the functions with the largest cumulative and own
time. The dataset is the one ``run.py`` caches for the same workload and size.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time

import engine_runner
import polars as pl
from run import RESULTS_DIR, dataset_dir
from workloads import WORKLOADS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=["exact", "fuzzy", "aggregate"])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()

    data = dataset_dir(WORKLOADS[args.workload].scenario, args.rows, args.seed)
    left = pl.read_parquet(data / "left.parquet")
    right = pl.read_parquet(data / "right.parquet")
    system = engine_runner.ENGINE_SYSTEMS[f"engine_{args.workload}"]

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    run = system(left, right)
    profiler.disable()
    elapsed = time.perf_counter() - started

    out = RESULTS_DIR / "profiles" / f"{args.workload}-{args.rows}.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(out)
    print(f"{args.workload} {args.rows:,}: {elapsed:.2f} s under cProfile, {run.candidates:,} candidates")
    print("engine stages:", json.dumps(run.stages))
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
        print(f"\n--- top {args.top} by {order} ---")
        print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[:12000])
    print(f"\nprofile written to {out}")


if __name__ == "__main__":
    main()
