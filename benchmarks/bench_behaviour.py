"""The behavioural suite (assets/behaviour/, CheckList): per capability, the share of short typed texts the
model reads wrong, beside its single-task twin, VADER and TF-IDF + logistic regression, each with a Wilson 95%
interval; then the goal (every capability passes >= 90%) as met, or not met by how much.

    .venv/bin/python benchmarks/bench_behaviour.py [--checkpoint assets/model] [--json PATH]
        [--twin-sentiment DIR] [--twin-attributes DIR] [--no-tfidf]

Sentiment reads the 3 labels; attributes the one category of a product text. The TF-IDF peers are the ones of
guide/evaluation/peers.py, fitted on the checkpoint's training reviews and training Sephora products (~15 s on
two cores). A twin is a checkpoint folder (`python -m guide evaluate --full` trains them into runs/); without
one that column says why it is empty.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from guide.config import DEFAULT_CHECKPOINT  # noqa: E402
from guide.evaluation import behaviour  # noqa: E402

COLUMNS = ("model", "twin", "VADER", "TF-IDF+LR")
TASKS = {"sentiment": "sentiment label", "attributes": "product category"}


def twin(folder: str | None, task: str, read: str):
    """The twin's predictor, or None with a printed note when no usable folder was given."""
    if not folder:
        print(f"note: no {task} twin (pass --twin-{task} DIR); its column stays empty")
        return None
    try:
        model = behaviour.CheckpointTexts(folder)
    except (FileNotFoundError, ValueError) as error:
        print(f"note: {task} twin skipped: {error}")
        return None
    if task not in model.tasks:
        print(f"note: {task} twin skipped: {folder} holds the heads {model.tasks}, not {task}")
        return None
    return getattr(model, read)


def predictors(args, guide) -> dict[str, dict]:
    """task -> column -> predict (None: not run, shown as a dash)."""
    from guide.data.catalog import Catalog

    config = guide.checkpoint.config.data
    catalog = None if args.no_tfidf else Catalog.load(config=config)
    split = guide.checkpoint.attribute_split or "brand"
    started = time.perf_counter()
    tfidf = {
        "sentiment": None if catalog is None else behaviour.tfidf_sentiment(catalog, config),
        "attributes": None if catalog is None else behaviour.tfidf_category(catalog, guide.categories, split),
    }
    if catalog is not None:
        print(f"TF-IDF peers fitted on the training split in {time.perf_counter() - started:.1f} s")
    return {
        "sentiment": {
            "model": behaviour.model_sentiment(guide),
            "twin": twin(args.twin_sentiment, "sentiment", "sentiment"),
            "VADER": behaviour.vader_sentiment,
            "TF-IDF+LR": tfidf["sentiment"],
        },
        "attributes": {
            "model": behaviour.model_category(guide),
            "twin": twin(args.twin_attributes, "attributes", "category"),
            "VADER": None,  # a sentiment lexicon has no categories
            "TF-IDF+LR": tfidf["attributes"],
        },
    }


def cell(entry: dict | None) -> str:
    if entry is None:
        return "    —"  # under the rate
    low, high = entry["ci"]
    return f"{100 * entry['rate']:5.1f} [{100 * low:4.1f}, {100 * high:5.1f}]"


def print_table(task: str, cases: list, results: dict[str, dict]) -> None:
    capabilities = list(dict.fromkeys(case.capability for case in cases))
    print(f"\n{task}: {len(cases)} texts, % of texts with the wrong {TASKS[task]} [95% Wilson CI]")
    print(f"{'capability':<17}{'n':>4}  " + "".join(f"{name:<22}" for name in COLUMNS))
    for capability in capabilities:
        n = sum(case.capability == capability for case in cases)
        row = [cell(results[name][capability] if name in results else None) for name in COLUMNS]
        print(f"{capability:<17}{n:>4}  " + "".join(f"{text:<22}" for text in row))
    for name in COLUMNS:
        if name in results:
            print(f"goal (every capability passes >= {behaviour.GOAL:.0%}), {name}: {verdict(results[name])}")
    for capability, entry in results["model"].items():
        for example in entry["examples"][:2]:
            text, got, expected = example["text"], example["got"], example["expected"]
            print(f"  model misses [{capability}] {text!r}: {got} (expected {expected})")


def verdict(rates: dict) -> str:
    gap = behaviour.goal_gap(rates)
    if gap["met"]:
        return f"met (worst: {gap['worst']} passes {gap['worst_pass']:.1%})"
    return (
        f"not met: {len(gap['below'])} of {len(rates)} capabilities below; worst {gap['worst']} passes "
        f"{gap['worst_pass']:.1%}, {100 * gap['short_by']:.1f} points short"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="the model's folder")
    parser.add_argument("--twin-sentiment", help="the single-task sentiment twin's checkpoint folder")
    parser.add_argument("--twin-attributes", help="the single-task attributes twin's checkpoint folder")
    parser.add_argument("--no-tfidf", action="store_true", help="skip fitting the TF-IDF peers")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    from guide import Guide

    guide = Guide.load(args.checkpoint)
    suites = {"sentiment": behaviour.load_sentiment(), "attributes": behaviour.load_products(guide.categories)}
    document = {"checkpoint": args.checkpoint, "goal": behaviour.GOAL, "device": str(guide.device)}
    for task, columns in predictors(args, guide).items():
        results = {name: behaviour.failure_rates(suites[task], fn) for name, fn in columns.items() if fn is not None}
        print_table(task, suites[task], results)
        document[task] = {"results": results, "goal": {name: behaviour.goal_gap(r) for name, r in results.items()}}
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=1, ensure_ascii=False))
        print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
