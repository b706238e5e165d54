"""Which training data the published SASRec+SS row may have used: the same recipe trained on the train part alone
(the protocol of the report, S3-Rec and BSARec) and on train + validation (each shopper's second-to-last product
learnt too), scored on the same test split.

    .venv/bin/python benchmarks/bench_peer_protocol.py [--recipe ss] [--seed 13]

The train-only run is the report's peer (`evaluate --purchase --sasrec ss`, reused from `runs/` when cached,
early-stopped on validation). The train + validation run has no validation left to stop on: it trains for the
train-only run's best number of epochs and keeps the last. Prints full-ranking HR@10 and NDCG@10 with 95% CIs over
the 22,363 test shoppers. Not a report row: a protocol that learns from the validation products is not the one the
shared model and BSARec are measured by.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import torch  # noqa: E402

from guide.config import DataConfig  # noqa: E402
from guide.data.catalog import Catalog  # noqa: E402
from guide.data.task_data import benchmark_purchase  # noqa: E402
from guide.evaluation import sasrec, sequential  # noqa: E402
from guide.metrics import bootstrap_ci  # noqa: E402


def scored(scorer, data) -> str:
    values = sequential.per_shopper(sequential.peer_ranks(scorer, data, data.purchase["test"]))
    cells = []
    for metric in ("full_hr@10", "full_ndcg@10"):
        low, high = bootstrap_ci(values[metric], len(values[metric]))
        cells.append(f"{metric} {values[metric].mean():.4f} [{low:.4f}, {high:.4f}]")
    return ", ".join(cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="ss", choices=sorted(sasrec.RECIPES))
    parser.add_argument("--seed", type=int, default=sequential.PEER_SEED)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pool, splits = benchmark_purchase(Catalog.load(), DataConfig())
    data = SimpleNamespace(amazon_rows=pool, purchase=splits)
    started = time.perf_counter()
    train_only = sequential.fit_sasrec(data, recipe=args.recipe, seed=args.seed)
    log = train_only.log
    best = max(log, key=lambda epoch: epoch["valid_ndcg10"])["epoch"]
    print(f"train only ({args.recipe}, seed {args.seed}; best epoch {best} of {len(log)}): {scored(train_only, data)}")
    with_valid = splits["test"].seen  # each shopper's whole sequence before the test product
    recipe = dataclasses.replace(sasrec.RECIPES[args.recipe], epochs=best, patience=best + 1)
    last = sasrec.fit(
        with_valid, pool, lambda scorer, count=itertools.count(): float(next(count)), recipe, seed=args.seed, cache=None
    )  # every epoch scores higher than the one before: the last is kept
    print(f"train + validation ({best} epochs): {scored(last, data)}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
