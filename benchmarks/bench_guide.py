"""Request latency of the shipped Guide (load, all-four predict, catalogue scoring, sentiment, search).

    .venv/bin/python benchmarks/bench_guide.py [--repeats 30]

Same as `python -m guide bench`; prints JSON.
"""

import argparse
import json

from guide.config import DEFAULT_CHECKPOINT
from guide.serving.bench import run

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    args = parser.parse_args()
    print(json.dumps(run(args.checkpoint, args.repeats), indent=1))
