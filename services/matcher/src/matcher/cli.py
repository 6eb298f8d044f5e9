"""`recon match LEFT RIGHT --rules RULES [--out DIR]`: the engine in-process, no infrastructure."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from matcher.cli_io import read_records, write_outputs
from matcher.domain import EngineError, Mapping, load_rules, match

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class ProgressBar:
    """A one-line bar on a terminal; silent when stderr is not one (logs stay clean)."""

    def __init__(self, stream: TextIO, enabled: bool, width: int = 30) -> None:
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.width = width
        self.started = time.monotonic()

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        filled = round(fraction * self.width)
        elapsed = time.monotonic() - self.started
        line = f"\r[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} {elapsed:6.1f}s {message}"
        self.stream.write(line[:100].ljust(100))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recon", description="Reconcile two files with a rule set.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("match", help="match LEFT against RIGHT and write the results")
    run.add_argument("left", type=Path, help="left file (CSV, TSV or XLSX)")
    run.add_argument("right", type=Path, help="right file (CSV, TSV or XLSX)")
    run.add_argument("--rules", type=Path, required=True, help="rule set (YAML or JSON) with a column mapping")
    run.add_argument("--out", type=Path, default=Path("recon-out"), help="output directory (default ./recon-out)")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _match(args)
    except EngineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _match(args: argparse.Namespace) -> int:
    rules = load_rules(args.rules)
    mapping = rules.mapping or Mapping()
    left = read_records(args.left, mapping.left)
    right = read_records(args.right, mapping.right)
    bar = ProgressBar(sys.stderr, enabled=not args.quiet)
    try:
        outcome = match(left, right, rules, progress=bar)
    finally:
        bar.close()
    summary = {
        "left": str(args.left), "right": str(args.right), "rules": str(args.rules),
        "rule_set": rules.name, "rule_version": rules.version,
    }  # fmt: skip
    write_outputs(outcome, args.out, summary)
    if not args.quiet:
        stats = outcome.stats
        print(
            f"{stats.auto_matches} matched, {stats.review_matches} to review, "
            f"{stats.unmatched_left} unmatched left, {stats.unmatched_right} unmatched right "
            f"({stats.seconds.get('total', 0):.2f}s) -> {args.out}",
            file=sys.stderr,
        )
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
