"""Quality of the sharing schemes and loss weightings, side by side on the validation split.

    .venv/bin/python benchmarks/bench_sharing.py [--steps 600] [--schemes hard,mmoe,ple,cross_stitch]
                                                 [--weightings equal,uncertainty,gradnorm,dwa,pcgrad]

Each configuration trains from the same seed for the same steps; prints the per-task validation
headline metrics, their mean (the score the trainer selects on) and the training time. Validation
only: the test split stays for `python -m guide evaluate`.
"""

import argparse
import json
import time

from guide.config import DataConfig, ModelConfig, TrainConfig
from guide.data import task_data
from guide.data.catalog import Catalog
from guide.data.text import Encoder
from guide.training.trainer import train

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--schemes", default="hard,mmoe,ple,cross_stitch")
    parser.add_argument("--weightings", default="uncertainty")
    parser.add_argument("--base-scheme", default="mmoe", help="scheme used when comparing weightings")
    args = parser.parse_args()
    catalog = Catalog.load()
    data = task_data.build(catalog, Encoder(), DataConfig())
    runs = [(s, w) for s in args.schemes.split(",") for w in args.weightings.split(",")]
    results = []
    for scheme, weighting in runs:
        config = TrainConfig(
            steps=args.steps, eval_every=max(1, args.steps // 3), weighting=weighting, model=ModelConfig(sharing=scheme)
        )
        started = time.perf_counter()
        checkpoint = train(data, config, catalog, progress=False)
        best = max(checkpoint.meta["history"], key=lambda h: h["score"])
        results.append(
            {
                "sharing": scheme,
                "weighting": weighting,
                "score": round(best["score"], 4),
                "val": {k: round(v, 4) for k, v in best["val"].items()},
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        print(json.dumps(results[-1]), flush=True)
