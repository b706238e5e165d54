"""The commands that build or measure what sits beside a model: `embed` (the embedding cache), `bench` (load
time and request latency), `calibrate` (a checkpoint's validation-tuned calibration, in place), `twins` (the
single-task twins' predictions for the app) and `data fetch` (the public data sets)."""

from __future__ import annotations

import json
from pathlib import Path

from guide.config import DEFAULT_CHECKPOINT


def _embed(args) -> int:
    from guide.data.catalog import Catalog
    from guide.data.text import Encoder
    from guide.model.checkpoint import Checkpoint

    catalog = Catalog.load(args.data_dir)
    encoder = Checkpoint.load(args.checkpoint).sentence_encoder() if args.checkpoint else Encoder()
    encoder.embed(catalog.items["text"].tolist(), progress=True, shard_name="items")
    encoder.embed(catalog.reviews["full_text"].tolist(), progress=True, shard_name="reviews")
    print(f"{len(encoder.cache)} embeddings cached in {encoder.cache.folder}")
    return 0


def _bench(args) -> int:
    from guide.serving.bench import run

    print(json.dumps(run(Path(args.checkpoint), repeats=args.repeats), indent=1))
    return 0


def _calibrate(args) -> int:
    """Re-fit what is tuned on validation (tag thresholds, sentiment offsets, purchase fusion weights and
    temperature) for a trained checkpoint, and save it in place."""
    import torch

    from guide.data import task_data
    from guide.data.catalog import Catalog
    from guide.model.checkpoint import Checkpoint
    from guide.model.device import resolve_device
    from guide.training.validation import calibrate

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(None)
    checkpoint = Checkpoint.load(args.checkpoint, device)
    catalog = Catalog.load(None, checkpoint.config.data)
    split = checkpoint.attribute_split or "brand"
    encoder = checkpoint.sentence_encoder()
    data = task_data.build(catalog, encoder, checkpoint.config.data, split, checkpoint.model.config.ngram_buckets)
    checkpoint.calibration = calibrate(checkpoint.model.to(device).eval(), data, device)
    checkpoint.save(args.checkpoint)
    shown = {k: v for k, v in checkpoint.calibration.items() if not isinstance(v, list) or len(v) <= 3}
    print(f"calibrated {args.checkpoint}: {json.dumps(shown)}")
    return 0


def _twins(args) -> int:
    import numpy as np

    from guide.evaluation.twin_export import export, pruning_lines

    folders = {name: value for name, value in (("runs", args.runs), ("out", args.out)) if value}
    path = export(args.checkpoint, **folders, measured=not args.no_measure)
    meta = json.loads(str(np.load(path)["meta"]))
    print(f"{path} ({path.stat().st_size / 1e6:.2f} MB, {meta['seconds']:.0f} s)")
    if not args.no_measure:
        print("\n".join(pruning_lines(meta)))
        for task, twin in meta["twins"].items():
            ships = twin["pruning"]["ships"]
            print(f"{task}: {'ships pruned, ' + ships if ships else 'stored predictions (no pruned form fits)'}")
    return 0


def _data_fetch(args) -> int:
    from guide.data.fetch import run_cli

    return run_cli(args.dest, args.base_url)


def add_commands(sub) -> None:
    """`embed`, `bench`, `calibrate`, `twins` and `data fetch` on the root parser's subcommands."""
    m = sub.add_parser("embed", help="embed the catalogue and reviews into the cache")
    m.add_argument("--data-dir", default=None)
    m.add_argument("--checkpoint", default="", help="embed with this checkpoint's (fine-tuned) encoder")
    m.set_defaults(run=_embed)
    b = sub.add_parser("bench", help="time loading and requests")
    b.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    b.add_argument("--repeats", type=int, default=30)
    b.set_defaults(run=_bench)
    c = sub.add_parser("calibrate", help="re-fit the validation-tuned calibration of a checkpoint, in place")
    c.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    c.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    c.set_defaults(run=_calibrate)
    x = sub.add_parser("twins", help="export the single-task twins' predictions for the app (assets/twins)")
    x.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="the shipped model the twins belong to")
    x.add_argument("--runs", default=None, help="where `evaluate --twins ... --save` put the twins (default runs/)")
    x.add_argument("--out", default=None, help="folder of the artifact twins.npz (default assets/twins)")
    x.add_argument("--no-measure", action="store_true", help="skip the pruning measurement (~10 s per twin)")
    x.set_defaults(run=_twins)
    d = sub.add_parser("data", help="manage the public data sets")
    dsub = d.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="download the data sets in guide/data/manifest.json, verify, build derived files")
    f.add_argument("--dest", default=None, help="target folder (default: GUIDE_DATA_DIR or ../shared/data)")
    f.add_argument("--base-url", default=None, help="mirror prefix or {repo}/{commit}/{path} template (GUIDE_DATA_URL)")
    f.set_defaults(run=_data_fetch)
