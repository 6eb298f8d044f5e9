"""Pick the decision threshold of the engine's fuzzy pass and of Splink the same way, on other data.

    uv run python bench/matching/tune_thresholds.py [--rows 100000] [--seed 777]

Both are tuned on a ``dirty`` dataset with a different seed from the benchmark's (12345), and the
rule is the same for both: the highest recall whose precision is at least 99.5 %. The chosen values
are the constants in ``engine_runner.FUZZY_RULES`` and ``splink_runner.MATCH_PROBABILITY``.
"""

from __future__ import annotations

import argparse
import copy

import engine_runner
import evaluate
import splink_runner
from datagen import MatchingDataset
from run import dataset_dir

MIN_PRECISION = 0.995
ENGINE_AUTO_THRESHOLDS = (0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90)
SPLINK_PROBABILITIES = (0.005, 0.01, 0.05, 0.2, 0.5, 0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=777)
    args = parser.parse_args()
    dataset = MatchingDataset.load(dataset_dir("dirty", args.rows, args.seed))

    results: list[tuple[str, float, float, float]] = []
    for threshold in ENGINE_AUTO_THRESHOLDS:
        rules = copy.deepcopy(engine_runner.FUZZY_RULES)
        rules["passes"][-1]["auto_match_threshold"] = threshold
        rules["passes"][-1]["review_threshold"] = min(rules["passes"][-1]["review_threshold"], threshold - 0.05)
        quality = evaluate.link_quality(engine_runner.run_rules(rules, dataset.left, dataset.right).pairs,
                                        dataset.truth)
        results.append(("engine auto_match_threshold", threshold, quality["precision"], quality["recall"]))
    for probability in SPLINK_PROBABILITIES:
        splink_runner.MATCH_PROBABILITY = probability
        quality = evaluate.link_quality(splink_runner.splink_fuzzy(dataset.left, dataset.right).pairs,
                                        dataset.truth)
        results.append(("splink match probability", probability, quality["precision"], quality["recall"]))

    for system in ("engine auto_match_threshold", "splink match probability"):
        rows = [r for r in results if r[0] == system]
        for _, value, precision, recall in rows:
            print(f"{system} {value}: precision {precision:.4%} recall {recall:.4%}")
        eligible = [r for r in rows if r[2] >= MIN_PRECISION]
        best = max(eligible, key=lambda r: r[3]) if eligible else None
        print(f"  -> chosen: {best[1] if best else 'none reaches the precision floor'}\n")


if __name__ == "__main__":
    main()
