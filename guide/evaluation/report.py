"""The full evaluation report: shipped MTL model, single-task twins, product-split twin, peers and the
out-of-domain section (`guide.evaluation.ood`); rendered as Markdown by `guide.evaluation.report_markdown`
(`markdown`, re-exported here).

Twins are trained with the shipped model's own configuration (one task on, the product split, or one review
source only), cached under `runs/` so a second `evaluate --full` reuses them.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import logging
import time
from pathlib import Path

from guide.config import ATTRIBUTES, PROJECT_ROOT, PURCHASE, SENTIMENT_SOURCES, TASKS, DataConfig
from guide.data import task_data
from guide.data.catalog import Catalog
from guide.data.text import EmbeddingCache, Encoder
from guide.evaluation.evaluate import check_checkpoint, merge, model_metrics, trivial_metrics
from guide.evaluation.purchase_parts import peer_names
from guide.evaluation.report_markdown import markdown
from guide.evaluation.sequential import FULL_TRAINED_PEERS, calibration, published
from guide.evaluation.summary import summarise
from guide.model.checkpoint import Checkpoint
from guide.model.device import resolve_device
from guide.model.fusion import Fusion
from guide.model.run_key import config_key
from guide.training.study import load_study

logger = logging.getLogger(__name__)
RUNS = PROJECT_ROOT / "runs"
OOD_EMBEDDINGS = RUNS / "ood-embeddings"  # sentences, free-text formats and titles: not the shipped cache


def _twin(
    name: str,
    base: Checkpoint,
    data,
    catalog,
    progress: bool,
    device,
    split: str = "brand",
    data_config: DataConfig | None = None,
    **changes,
) -> Checkpoint:
    """The twin trained like `base` with `changes` (and `data_config`, which `data` must be built with), on
    `device` (a twin trained on CUDA must not be fed CPU tensors, nor the other way round), checked against
    the data it will be scored on. `data` may be a function that builds it: called only when the twin is not
    in runs/ yet (a kept twin is checked against `base`'s tags)."""
    from guide.training.trainer import train

    config = copy.deepcopy(base.config)
    for key, value in changes.items():
        setattr(config.model if key == "tasks" else config, key, value)
    if data_config is not None:
        config.data = data_config
    folder = twin_folder(name, base, config)
    if (folder / "config.json").exists():
        logger.info("reusing %s from %s", name, folder)
        checkpoint = Checkpoint.load(folder, device)
        tags = base.tags if callable(data) else data.tags
    else:
        data = data() if callable(data) else data
        tags = data.tags
        checkpoint = train(data, config, catalog, progress=progress)
        checkpoint.attribute_split = split
        if base.encoder_folder is not None:  # the twin reads the shared model's fine-tuned encoder, frozen
            from guide.training.staged import save_with_encoder

            save_with_encoder(checkpoint, base.encoder_folder, folder)
        else:
            checkpoint.save(folder)
    check_checkpoint(checkpoint, split, catalog.fingerprint(), tags)
    return _on(checkpoint, device)


def twin_folder(name: str, base: Checkpoint, config) -> Path:
    """Where the twin `name` of `base`, trained by `config`, is kept under runs/ (and found again)."""
    return RUNS / f"{name}-{base.fingerprint or 'data'}-{config_key(config)}"


def _on(checkpoint: Checkpoint, device) -> Checkpoint:
    checkpoint.model.to(device).eval()
    return checkpoint


def _scored(checkpoint: Checkpoint, data, device, per_row: dict, **kwargs) -> dict:
    """model_metrics with the model moved to `device` first: every tensor of one evaluation on one device."""
    return model_metrics(_on(checkpoint, device).model, data, device, checkpoint.calibration, per_row=per_row, **kwargs)


def _add(report: dict, systems: dict) -> None:
    """Insert {task: {slice: {system: values}}} (peers, trivial peers) into the report."""
    for task, slices in systems.items():
        for slice_name, rows in slices.items():
            for name, values in rows.items():
                report.setdefault(task, {}).setdefault(slice_name, {})[name] = values


def build_report(
    checkpoint_dir: Path,
    full: bool = False,
    peers: bool = True,
    progress: bool = True,
    catalog: Catalog | None = None,
    encoder: Encoder | None = None,
    product_twin: bool = False,
    twins: tuple[str, ...] | None = None,
    sasrec: bool | tuple[str, ...] | None = None,
    sasrec_minutes: float | None = None,
    ood: bool = False,
    ood_twins: bool = False,
    ood_checkpoints: dict[str, Path] | None = None,
    ood_encoder: Encoder | None = None,
    fair_twins: bool = False,
) -> dict:
    """The model, its single-task twins (all with `full`, else those in `twins`) and the peers (the SASRec
    peers, which train up to an hour each, with `full` or `sasrec`: True or a tuple of recipes) on the test
    splits, every figure with a 95% CI; with `ood` (or `full`) the out-of-domain section, see `ood_section`."""
    started = time.perf_counter()
    device, base, catalog, encoder, data = _load(checkpoint_dir, catalog, encoder)
    buckets = base.model.config.ngram_buckets
    report: dict = {}
    per_row: dict = {"MTL": {}, "STL": {}}  # headline statistics per row, for paired MTL-vs-STL decisions
    merge(report, "MTL", _scored(base, data, device, per_row["MTL"]))
    if PURCHASE in base.model.config.tasks:  # the served score taken apart: head and each signal alone
        from guide.evaluation.purchase_report import add_parts

        add_parts(report, base, data, device)
    _add(report, trivial_metrics(data))
    data_product = None
    if full or peers:  # the attribute peers and twins are also judged on the product split
        data_product = _with_peers(
            base, catalog, task_data.build(catalog, encoder, base.config.data, "product", buckets)
        )
        _add(report, {ATTRIBUTES: trivial_metrics(data_product, attribute_slice="product").get(ATTRIBUTES, {})})
    twin_tasks = TASKS if full else tuple(t for t in (twins or ()) if t in base.model.config.tasks)
    for task in twin_tasks:
        if fair_twins:  # each twin reads the encoder its own task gives it (guide/evaluation/fair_twins.py)
            from guide.evaluation.fair_twins import fair_twin

            twin, twin_data = fair_twin(base, task, catalog, progress)
            merge(report, "STL", _scored(twin, twin_data, device, per_row["STL"]))
            continue
        twin = _twin(f"stl-{task}", base, data, catalog, progress, device, tasks=(task,))
        merge(report, "STL", _scored(twin, data, device, per_row["STL"]))
    if full:
        if product_twin:  # a second full multi-task training (~40 min on 2 CPU cores): only when asked
            product = _twin("mtl-product-split", base, data_product, catalog, progress, device, "product")
            metrics = _scored(product, data_product, device, {}, attribute_slice="product")
            merge(report, "MTL", {ATTRIBUTES: metrics[ATTRIBUTES]})
        stl_product = _twin(
            "stl-attributes-product-split",
            base,
            data_product,
            catalog,
            progress,
            device,
            "product",
            tasks=(ATTRIBUTES,),
        )
        merge(report, "STL", _scored(stl_product, data_product, device, {}, attribute_slice="product"))
    if peers:
        from guide.evaluation.peers import peer_report

        _add(
            report,
            peer_report(
                catalog,
                data,
                data_product,
                "test",
                sasrec=(FULL_TRAINED_PEERS if full else False) if sasrec is None else sasrec,
                sasrec_minutes=sasrec_minutes,
            ),
        )
    if PURCHASE in base.model.config.tasks:
        fusion = base.calibration.get("purchase_fusion")
        report["purchase_calibration"] = calibration(
            base.model, data, device, Fusion(**fusion) if fusion else None,
            float(base.calibration.get("purchase_temperature", 1.0)),
        )  # fmt: skip
    if ood or full:
        report["ood"] = ood_section(
            base, catalog, data, encoder, device, progress, ood_twins or full, ood_checkpoints, ood_encoder
        )
    report["summary"] = summarise(report, peers=peer_names(report), per_row=per_row)
    if (study := load_study(checkpoint_dir)) is not None:
        report["search"] = study
    report["meta"] = {
        "checkpoint": str(checkpoint_dir),
        "fingerprint": base.fingerprint,
        "attribute_split": base.attribute_split or "brand (not recorded)",
        "config": {
            "sharing": base.model.config.sharing,
            "weighting": base.config.weighting,
            "sampling": base.config.sampling,
            "steps": base.config.steps,
        },
        "seconds": round(time.perf_counter() - started, 1),
        "full": full,
        "twins": list(twin_tasks),
        "twin_encoders": "own (fair twins)" if fair_twins else "the shared model's, frozen",
        "sasrec_peer": bool(full if sasrec is None else sasrec) and peers,
        "notes": [
            "profile interests: the Amazon Beauty category path's levels 1-3, frequent brands and the Sephora "
            "tags; the benchmark's products get silver tags from a TF-IDF one-vs-rest classifier fitted on "
            "training Sephora products only (guide/data/task_data.py); ndcg_category ranks the next product's "
            "second path level, ndcg_subcategory its third, ndcg_brand its brand",
            "tag vocabulary, silver-tag classifier and n-gram idf are fitted on training rows only",
            "verdicts: MTL vs STL by a paired bootstrap of the difference (same resampled rows), "
            "vs peers by non-overlapping 95% CIs; a point estimate alone never decides",
            "purchase: Amazon Beauty 2014 5-core (S3-Rec preprocessing), leave-one-out; full_* ranks each "
            "test shopper's last product among all 12,101 products with their history masked; hr@10 / ndcg@10 "
            "among 1 + 99 uniformly sampled products they never bought",
        ],
        "published": published(),
    }
    return report


def _load(checkpoint_dir: Path, catalog: Catalog | None, encoder: Encoder | None):
    """(device, checkpoint, catalogue, encoder, brand-split task data), the checkpoint checked against the data."""
    device = resolve_device(None)  # one device for the model, its twins and every tensor fed to them
    base = Checkpoint.load(checkpoint_dir, device)
    catalog = catalog or Catalog.load(None, base.config.data)
    encoder = encoder or base.sentence_encoder()
    data = _with_peers(
        base, catalog, task_data.build(catalog, encoder, base.config.data, "brand", base.model.config.ngram_buckets)
    )
    check_checkpoint(base, "brand", catalog.fingerprint(), data.tags)
    return device, _on(base, device), catalog, encoder, data


def _with_peers(base: Checkpoint, catalog: Catalog, data):
    """A fine-tuned model's data carry the frozen base encoder's vectors too, for the MiniLM peers."""
    return data if base.encoder_folder is None else task_data.with_peer_embeddings(data, catalog, Encoder())


def one_source_models(
    base: Checkpoint, catalog, encoder, device, progress: bool, train_missing: bool, paths: dict[str, Path] | None
) -> dict[str, Checkpoint]:
    """{review source: a multi-task model trained on that source's reviews only}: the folders in `paths`, and
    with `train_missing` the other sources' twins, trained like `base` with `sentiment_sources` = that source
    into `runs/` (a full training each; the whole staged recipe for a staged `base`) or reused from there."""
    from guide.evaluation import fair_twins
    from guide.evaluation.ood import check_source_only

    buckets = base.model.config.ngram_buckets
    models = {}
    for source in SENTIMENT_SOURCES:
        config = dataclasses.replace(base.config.data, sentiment_sources=(source,))
        if source in (paths or {}):
            models[source] = _on(Checkpoint.load(Path(paths[source]), device), device)
            check_source_only(models[source], source)
            check_checkpoint(models[source], "brand", catalog.fingerprint(), base.tags)
        elif train_missing and fair_twins.is_staged(base):
            # trained on the shipped encoder, which read both sources, a one-source model is not out of domain
            models[source] = _on(fair_twins.one_source_model(base, source, catalog, progress, RUNS), device)
            check_checkpoint(models[source], "brand", catalog.fingerprint(), base.tags)
        elif train_missing:
            data = functools.partial(task_data.build, catalog, encoder, config, "brand", buckets)  # if it trains
            models[source] = _twin(f"ood-{source}-only", base, data, catalog, progress, device, data_config=config)
    unknown = set(paths or {}) - set(SENTIMENT_SOURCES)
    if unknown:
        raise ValueError(f"ood checkpoints: expected sources among {SENTIMENT_SOURCES}; got {sorted(unknown)}")
    return models


def ood_section(
    base: Checkpoint,
    catalog,
    data,
    encoder,
    device,
    progress: bool = True,
    ood_twins: bool = False,
    ood_checkpoints: dict[str, Path] | None = None,
    ood_encoder: Encoder | None = None,
) -> dict:
    """report["ood"]: sentiment across sources and sentences, attributes on every text format, Beauty 2014
    titles (`guide.evaluation.ood`), with the one-source models given or (`ood_twins`) trained into runs/.
    New texts are embedded into a cache under runs/ (`ood_encoder` overrides), never the shipped one."""
    from guide.evaluation.ood import ood_report

    models = one_source_models(base, catalog, encoder, device, progress, ood_twins, ood_checkpoints)
    ood_encoder = ood_encoder or base.sentence_encoder(OOD_EMBEDDINGS)
    peer_encoder = None if base.encoder_folder is None else Encoder(cache=EmbeddingCache(OOD_EMBEDDINGS))
    own = {s: m.sentence_encoder(OOD_EMBEDDINGS) for s, m in models.items() if m.encoder_folder is not None}
    return ood_report(base, catalog, data, ood_encoder, device, models, peer_encoder=peer_encoder, model_encoders=own)


def build_ood(
    checkpoint_dir: Path,
    ood_twins: bool = False,
    ood_checkpoints: dict[str, Path] | None = None,
    progress: bool = True,
    catalog: Catalog | None = None,
    encoder: Encoder | None = None,
    ood_encoder: Encoder | None = None,
) -> dict:
    """Only the out-of-domain section, as {"ood": ...} (`python -m guide evaluate --ood` without heavier flags)."""
    device, base, catalog, encoder, data = _load(checkpoint_dir, catalog, encoder)
    section = ood_section(base, catalog, data, encoder, device, progress, ood_twins, ood_checkpoints, ood_encoder)
    return {"ood": section}


def save_report(report: dict, checkpoint_dir: Path) -> Path:
    """Write `report` as the checkpoint's report.json, with the saved report's seed sections that still hold for
    its purchase rows (`purchase_seeds.still_holding`): a full re-run does not lose seeds trained for hours."""
    from guide.evaluation.purchase_seeds import still_holding

    path = Path(checkpoint_dir) / "report.json"
    saved = json.loads(path.read_text()) if path.exists() else None
    kept = {key: section for key, section in still_holding(report, saved).items() if section and key not in report}
    path.write_text(json.dumps({**report, **kept}, indent=1, default=float))
    return path


def merge_saved(sections: dict, checkpoint_dir: Path) -> Path:
    """Write `sections` (e.g. {"ood": ...}) into the saved report.json, keeping every other section as it is;
    a section given as None is removed."""
    path = Path(checkpoint_dir) / "report.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    report.update(sections)
    report = {key: value for key, value in report.items() if value is not None}
    path.write_text(json.dumps(report, indent=1, default=float))
    return path


__all__ = ["build_ood", "build_report", "markdown", "merge_saved", "one_source_models", "ood_section", "save_report"]
