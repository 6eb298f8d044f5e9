"""One measurement in a fresh process: load a dataset, run one system K times, report.

``run.py`` starts this script once per (system, dataset) so that peak RSS belongs to that system
alone. Usage: ``measure.py SYSTEM DATA_DIR OUT_DIR [--repeat K]``. It writes ``result.json`` plus the
last run's committed links (``pairs.parquet``) and review proposals (``review.parquet``) to OUT_DIR.
Input loading and one warm-up run on a 2,000-row slice are outside the timed region; everything
from the canonical frames to the final links is inside it.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import psutil
from system_run import SystemRun

System = Callable[[pl.DataFrame, pl.DataFrame], SystemRun]
WARM_UP_ROWS = 2_000


def resolve(system: str) -> System:
    """Import only what the system needs, so a baseline run does not pay for Splink or the engine."""
    if system == "duckdb_fuzzy_adaptive":
        from baseline_adaptive import duckdb_fuzzy_adaptive
        return duckdb_fuzzy_adaptive
    if system == "splink_fuzzy":
        from splink_runner import splink_fuzzy
        return splink_fuzzy
    if system.startswith("engine_"):
        import engine_runner
        return engine_runner.ENGINE_SYSTEMS[system]
    import baselines
    return baselines.BASELINES[system]


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    system = resolve(args.system)

    left = pl.read_parquet(args.data_dir / "left.parquet")
    right = pl.read_parquet(args.data_dir / "right.parquet")
    rss_after_load = psutil.Process().memory_info().rss
    peak_after_load = peak_rss_bytes()

    # An untimed run on a small slice first, so lazy imports and first-call set-up (pyarrow, DuckDB's
    # catalog, Splink's SQL templates) are not billed to the timed runs of any system.
    system(left.head(WARM_UP_ROWS), right.head(WARM_UP_ROWS))

    seconds: list[float] = []
    stages: list[dict[str, float]] = []
    run: SystemRun | None = None
    for _ in range(args.repeat):
        run = None
        gc.collect()
        started = time.perf_counter()
        run = system(left, right)
        seconds.append(time.perf_counter() - started)
        stages.append(run.stages)
    peak = peak_rss_bytes()
    assert run is not None

    args.out_dir.mkdir(parents=True, exist_ok=True)
    run.pairs.select("left_id", "right_id").write_parquet(args.out_dir / "pairs.parquet")
    for name, frame in (("review", run.review_pairs), ("nearest", run.nearest_pairs)):
        stale = args.out_dir / f"{name}.parquet"
        stale.unlink(missing_ok=True)
        if frame is not None:
            frame.select("left_id", "right_id").write_parquet(stale)
    # Candidates not implied by a simple condition are listed (untimed, after the peak RSS is read).
    candidates_file = args.out_dir / "candidates.parquet"
    candidates_file.unlink(missing_ok=True)
    if args.system == "duckdb_fuzzy_adaptive":
        from baseline_adaptive import adaptive_candidates
        adaptive_candidates(left, right).write_parquet(candidates_file)
    details = run.details or {}
    approximate = details.get("hot_records_reblocked") or details.get("oversized_blocks_split")
    if args.system.startswith("engine_") and approximate:
        import engine_runner
        engine_runner.candidate_pairs(args.system, left, right).write_parquet(candidates_file)
    result = {
        "system": args.system,
        "seconds": seconds,
        "stages": stages,
        "candidates": run.candidates,
        "details": run.details,
        "rss_after_load_bytes": rss_after_load,
        "peak_rss_after_load_bytes": peak_after_load,
        "peak_rss_bytes": peak,
    }
    (args.out_dir / "result.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
