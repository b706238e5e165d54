"""`python -m guide evaluate`: the full report, the out-of-domain section alone (--ood) or the purchase section
alone (--purchase), printed and optionally saved beside the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from guide.config import DEFAULT_CHECKPOINT


def _ood_checkpoints(values: list[str]) -> dict[str, Path]:
    """["amazon=runs/x", ...] -> {"amazon": Path("runs/x")}."""
    out = {}
    for value in values:
        source, sep, folder = value.partition("=")
        if not sep or not folder:
            raise ValueError(f"--ood-checkpoint: expected SOURCE=FOLDER (e.g. amazon=runs/ood-amazon); got {value!r}")
        out[source] = Path(folder)
    return out


def _sasrec(value: str) -> tuple[str, ...] | None:
    """--sasrec's recipes ("ce,ss" -> ("ce", "ss")); None when absent (the report's default applies)."""
    return tuple(v.strip() for v in value.split(",") if v.strip()) or None


def _evaluate(args) -> int:
    from guide.evaluation.report import build_ood, build_report, markdown, merge_saved, save_report

    if args.purchase:
        return _evaluate_purchase(args)
    if args.peer_seed:
        raise ValueError("--peer-seed: expected with --purchase --sasrec (the peers' seeds score the purchase section)"
                         "; fix: add --purchase")  # fmt: skip
    if args.seed_checkpoint:
        raise ValueError("--seed-checkpoint: expected with --purchase (the seeds score the purchase section); "
                         "fix: add --purchase")  # fmt: skip
    ood = args.ood or args.ood_twins or bool(args.ood_checkpoint)
    checkpoints = _ood_checkpoints(args.ood_checkpoint)
    if ood and not (args.full or args.twins or args.sasrec or args.product_twin):
        # the out-of-domain section alone; --save merges it into the saved report, every other number kept
        report = build_ood(Path(args.checkpoint), args.ood_twins, checkpoints, progress=not args.quiet)
        if args.save:
            merge_saved(report, Path(args.checkpoint))
    else:
        report = build_report(
            Path(args.checkpoint),
            full=args.full,
            peers=not args.no_peers,
            progress=not args.quiet,
            product_twin=args.product_twin,
            twins=tuple(args.twins.split(",")) if args.twins else None,
            sasrec=_sasrec(args.sasrec),
            sasrec_minutes=args.sasrec_minutes,
            ood=ood,
            ood_twins=args.ood_twins,
            ood_checkpoints=checkpoints,
            fair_twins=args.fair_twins,
        )
        if args.save:
            save_report(report, Path(args.checkpoint))
    print(json.dumps(report, indent=1, default=float) if args.json else markdown(report))
    return 0


def _evaluate_purchase(args) -> int:
    """The purchase section alone (the model, its parts, peers, calibration, published table); --save merges it
    into the saved report.json, every other section and every row not recomputed kept."""
    from guide.evaluation.purchase_report import build_purchase, merge_purchase
    from guide.evaluation.purchase_seeds import peer_plan
    from guide.evaluation.report import markdown

    saved_path = Path(args.checkpoint) / "report.json"
    saved = json.loads(saved_path.read_text()) if saved_path.exists() else None
    twins = [t for t in args.twins.split(",") if t] if args.twins else []
    report = build_purchase(Path(args.checkpoint), saved, twin="purchase" in twins,
                            sasrec=_sasrec(args.sasrec) or False,
                            sasrec_minutes=args.sasrec_minutes, progress=not args.quiet,
                            seeds=[Path(f) for f in args.seed_checkpoint],
                            peer_seeds=peer_plan(args.peer_seed, _sasrec(args.sasrec) or ()))  # fmt: skip
    if args.save:
        merge_purchase(report, Path(args.checkpoint))
    print(json.dumps(report, indent=1, default=float) if args.json else markdown(report))
    return 0


def add_commands(sub) -> None:
    """`evaluate` on the root parser's subcommands."""
    e = sub.add_parser("evaluate", help="evaluate the checkpoint against STL twins and peers")
    e.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.add_argument("--full", action="store_true", help="also train/evaluate STL twins and the product-split twin")
    e.add_argument("--no-peers", action="store_true")
    e.add_argument("--product-twin", action="store_true", help="with --full: also the multi-task product-split twin")
    e.add_argument("--twins", default="", help="without --full: train/reuse only these single-task twins (comma list)")
    e.add_argument(
        "--fair-twins",
        action="store_true",
        help="twins of a staged model fine-tune their own encoder (attributes, sentiment; ~35 min each here)",
    )
    e.add_argument(
        "--sasrec",
        nargs="?",
        const="ce,ss,bsarec",
        default="",
        help="without --full: also train the purchase peers that train (all, or a comma list: ce = SASRec with "
        "cross-entropy, ss = SASRec to the eSASRec authors' sampled softmax, bsarec = BSARec); each cached in runs/",
    )
    e.add_argument(
        "--purchase",
        action="store_true",
        help="only the purchase section (model, its parts, peers, published table; --twins purchase, --sasrec add "
        "theirs); with --save merged into report.json",
    )
    e.add_argument(
        "--seed-checkpoint",
        action="append",
        default=[],
        metavar="FOLDER",
        help="with --purchase: the same recipe trained with another --seed (repeatable); the headline over seeds",
    )
    e.add_argument(
        "--peer-seed",
        action="append",
        default=[],
        metavar="[PEER:]SEED",
        help="with --purchase: also train the --sasrec peers (or PEER alone, e.g. bsarec:14, its row kept) with this "
        "seed (repeatable); mean ± std over seeds",
    )
    e.add_argument(
        "--sasrec-minutes",
        type=float,
        default=None,
        help="the trained peers' budget in minutes (default: 90 for SASRec; BSARec stops at its 46 epochs)",
    )
    e.add_argument("--ood", action="store_true", help="out-of-domain tables (alone: only them; --full implies them)")
    e.add_argument(
        "--ood-twins", action="store_true", help="with --ood: train/reuse the one-review-source models in runs/"
    )
    e.add_argument(
        "--ood-checkpoint",
        action="append",
        default=[],
        metavar="SOURCE=FOLDER",
        help="with --ood: a model trained on that review source only (repeatable)",
    )
    e.add_argument("--save", action="store_true", help="write report.json beside the checkpoint (--ood alone: merge)")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(run=_evaluate)
