"""What the single-task twins say about what the shop shows: their predictions, exported for the app.

The twins (`python -m guide evaluate --twins ...`, `guide/evaluation/report.py`) are full checkpoints that
already hold only their own task's parts, almost all of it the hashed n-gram table (2^17 x 64) and, for
attributes and sentiment, a wide n-gram part beside it. `measure` prunes a twin as far as it goes without
retraining (n-gram rows no training text hashes to dropped, the tables in int8 or int4) and records its bytes
and how far its probabilities move on held-out inputs; the command prints it (`--no-measure` skips it). A
pruned twin would be worth running live only if it fit `SHIP_BYTES` and moved no probability by more than
`TOLERANCE` (`ships`); none does (README, "Single-task twins"), so the app shows the predictions written here:

- attributes: every catalogue product's top tags (probability, over the twin's threshold or not), category;
- sentiment: every shipped review a product page shows: its label (with the twin's class offsets), probabilities;
- profile: every shopper's top interest categories after their shipped history;
- purchase: every shopper's top next products, P(next purchase) over the catalogue fused and calibrated as
  the shop does it (`serving/facade.Guide._forward`).

The artifact carries the shipped checkpoint's fingerprint and config hash and each twin's config hash, so
serving (`guide/serving/twins.py`) can tell a stale artifact from a current one.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from guide.config import ATTRIBUTES, DEFAULT_CHECKPOINT, PROFILE, PURCHASE, SENTIMENT, SENTIMENT_LABELS
from guide.data import task_data
from guide.data.catalog import Catalog
from guide.data.task_data import PurchaseSplit, TaskData
from guide.data.text import Encoder
from guide.evaluation.evaluate import check_checkpoint
from guide.evaluation.report import RUNS
from guide.model.checkpoint import Checkpoint
from guide.model.device import resolve_device
from guide.model.fusion import Fusion
from guide.model.outputs import (
    attribute_probs,
    eval_candidates,
    item_representations,
    profile_probs,
    purchase_scores,
    sentiment_log_probs,
)
from guide.model.purchase_scoring import fused_scores
from guide.model.run_key import config_key
from guide.model.twin_artifact import ARTIFACT, DEFAULT_OUT, FORMAT, twin_hashes

logger = logging.getLogger(__name__)

SHIP_BYTES = 5_000_000  # "a few MB": a pruned twin above this is not shipped
TOLERANCE = 1e-3  # largest change of any probability a pruned twin may make on held-out inputs
TOP_TAGS, TOP_CATEGORIES, TOP_INTERESTS, TOP_PRODUCTS = 8, 3, 5, 5
# Pruned forms measured: (name, drop the n-gram rows no training text hashes to, bits per table value)
VARIANTS = (
    ("unused rows dropped", True, None),
    ("tables in int8", False, 8),
    ("tables in int4", False, 4),
    ("unused rows dropped, tables in int4", True, 4),
)
MEASURE_SHOPPERS = 2000  # held-out shoppers the purchase and profile twins are compared on
SHOPPER_CHUNK = 1024  # shoppers per fused catalogue pass: (1024, 20,951) float32 is ~86 MB


# --- where the twins are -------------------------------------------------------------------------------
def twin_folder(base: Checkpoint, task: str, runs: Path = RUNS) -> Path:
    """Where `evaluate --twins` saves `task`'s twin of `base` (the same name report._twin gives it)."""
    return Path(runs) / f"stl-{task}-{base.fingerprint or 'data'}-{twin_hashes(base)[task]}"


def find_twins(base: Checkpoint, runs: Path = RUNS) -> dict[str, Path]:
    """{task: folder} of every twin of `base`; FileNotFoundError naming the missing ones and the fix."""
    folders = {task: twin_folder(base, task, runs) for task in base.model.config.tasks}
    missing = [str(f) for f in folders.values() if not (f / "config.json").exists()]
    if missing:
        raise FileNotFoundError(
            f"expected a single-task twin in each of {missing}; got none there; fix: run `python -m guide "
            f"evaluate --twins {','.join(base.model.config.tasks)} --save` with this checkpoint first"
        )
    return folders


# --- what each twin says -------------------------------------------------------------------------------
def _top(values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, count) column indices of each row's largest values, largest first, and those values. Wide rows
    (a whole catalogue) are partitioned first: sorting 20,951 scores per shopper to keep 5 took most of the export."""
    if values.shape[1] > 4 * count:
        part = np.argpartition(-values, count - 1, axis=1)[:, :count]
        order = np.argsort(-np.take_along_axis(values, part, 1), axis=1, kind="stable")
        index = np.take_along_axis(part, order, 1)
    else:
        index = np.argsort(-values, axis=1, kind="stable")[:, :count]
    return index.astype(np.int16 if values.shape[1] < 2**15 else np.int32), np.take_along_axis(values, index, 1)


def attribute_part(
    twin: Checkpoint, data: TaskData, catalog: Catalog, shoppers: PurchaseSplit, device
) -> dict[str, np.ndarray]:
    tags, cats = attribute_probs(twin.model, data, np.arange(len(data.item_emb)), device)
    thresholds = np.array(twin.calibration.get("tag_thresholds", [0.5] * tags.shape[1]))
    tag_index, tag_prob = _top(tags, min(TOP_TAGS, tags.shape[1]))
    cat_index, cat_prob = _top(cats, min(TOP_CATEGORIES, cats.shape[1]))
    return {
        "tag_index": tag_index,
        "tag_prob": tag_prob.astype(np.float16),
        "tag_over": tag_prob >= thresholds[tag_index],
        "category_index": cat_index,
        "category_prob": cat_prob.astype(np.float16),
    }


def sentiment_part(
    twin: Checkpoint, data: TaskData, catalog: Catalog, shoppers: PurchaseSplit, device
) -> dict[str, np.ndarray]:
    """The shipped reviews of catalogue products (what product pages show)."""
    reviews = catalog.reviews
    rows = np.flatnonzero(reviews["item_id"].isin(set(catalog.items["item_id"])).to_numpy())
    log_probs = sentiment_log_probs(twin.model, data, rows, device)
    bias = np.array(twin.calibration.get("sentiment_bias", [0.0, 0.0, 0.0]))
    return {
        "review_id": reviews["review_id"].to_numpy()[rows].astype(str).astype(np.bytes_),
        "review_probs": np.exp(log_probs).astype(np.float16),
        "review_label": (log_probs + bias).argmax(1).astype(np.int8),
    }


def shipped_shoppers(catalog: Catalog, max_history: int) -> PurchaseSplit:
    """Every shopper's shipped history (all splits, oldest first, the last `max_history`), as the shop's
    personas read it (`serving/personas.build_personas`, `Guide._history`)."""
    ordered = catalog.interactions.sort_values(["user_id", "timestamp"], kind="stable")
    rows = catalog.rows(ordered["item_id"].astype(str).tolist())
    stars = np.nan_to_num(ordered["rating"].to_numpy(np.float32))
    users, starts = np.unique(ordered["user_id"].astype(str).to_numpy(), return_index=True)
    ends = np.append(starts[1:], len(ordered))
    history = [rows[a:b][-max_history:] for a, b in zip(starts, ends, strict=True)]
    ratings = [stars[a:b][-max_history:] for a, b in zip(starts, ends, strict=True)]
    return PurchaseSplit(list(users), history, ratings, np.zeros(len(users), np.int64))


def profile_part(
    twin: Checkpoint, data: TaskData, catalog: Catalog, shoppers: PurchaseSplit, device
) -> dict[str, np.ndarray]:
    """Top interest categories, renormalised over the categories (as the shop's profile shows them: the
    category path's second level; older checkpoints: their categories)."""
    probs = profile_probs(twin.model, data, shoppers, device)
    cats = probs[:, twin.interest_columns("path2")]
    index, prob = _top(cats / cats.sum(1, keepdims=True).clip(1e-12), TOP_INTERESTS)
    return {"interest_index": index, "interest_prob": prob.astype(np.float16)}


def purchase_part(
    twin: Checkpoint, data: TaskData, catalog: Catalog, shoppers: PurchaseSplit, device
) -> dict[str, np.ndarray]:
    """Top next products over the whole catalogue: fused, history masked, softmax at the twin's temperature."""
    fusion = Fusion(**twin.calibration.get("purchase_fusion", {}))
    temperature = float(twin.calibration.get("purchase_temperature", 1.0))
    reps = item_representations(twin.model, data, device)
    everything = np.arange(len(data.item_emb))
    index, prob = [], []
    for start in range(0, len(shoppers.users), SHOPPER_CHUNK):
        part = shoppers.subset(np.arange(start, min(start + SHOPPER_CHUNK, len(shoppers.users))))
        logits = fused_scores(twin.model, data, part, device, reps, everything, fusion) / temperature
        for i, history in enumerate(part.history):
            logits[i, history] = -np.inf  # what the shopper has is not their next purchase
        probs = np.exp(logits - logits.max(1, keepdims=True))
        top_index, top_prob = _top(probs / probs.sum(1, keepdims=True), TOP_PRODUCTS)
        index.append(top_index.astype(np.int32))
        prob.append(top_prob.astype(np.float16))
    return {"product_index": np.concatenate(index), "product_prob": np.concatenate(prob)}


# What each twin's part of the artifact holds; every part takes (twin, data, catalog, shoppers, device).
PARTS = {ATTRIBUTES: attribute_part, SENTIMENT: sentiment_part, PROFILE: profile_part, PURCHASE: purchase_part}


# --- how small a twin gets -----------------------------------------------------------------------------
def _tables(model) -> list[str]:
    """The hashed n-gram tables: the shared one and the wide parts (rows = buckets)."""
    shared = ["encoder.ngrams.weight"] if model.encoder.ngrams is not None else []
    return [*shared, *[f"wide.{task}.weight" for task in model.wide]]


def _saved_state(model) -> dict[str, torch.Tensor]:
    """What Checkpoint.save writes: every floating tensor in float16."""
    return {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
            if v.is_floating_point()}  # fmt: skip


def _quantised(rows: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Symmetric per-row quantisation: (stored codes, fp16 scales, the rows as they read back)."""
    top = 2 ** (bits - 1) - 1
    scale = (rows.float().abs().amax(1, keepdim=True) / top).clamp_min(1e-12).half()
    codes = torch.round(rows.float() / scale.float()).clamp(-top, top).to(torch.int8)
    back = codes.float() * scale.float()
    if bits == 4:  # two codes per byte
        padded = torch.nn.functional.pad(codes, (0, codes.shape[1] % 2))  # an odd width gets one empty code
        nibbles = (padded + 8).to(torch.uint8).reshape(len(codes), -1, 2)
        codes = nibbles[..., 0] | (nibbles[..., 1] << 4)
    return codes, scale, back


def pruned(model, used: np.ndarray | None, bits: int | None) -> tuple[dict, dict]:
    """(what a pruned file stores, the full fp32 state it reads back as). With `used`, table rows no training
    text hashes to are dropped (a kept-rows bitmap instead; dropped rows read as 0); `bits` stores the kept
    rows as per-row int8 or int4 codes with an fp16 scale."""
    stored, restored = _saved_state(model), {k: v.float() for k, v in _saved_state(model).items()}
    keep = torch.ones(model.config.ngram_buckets, dtype=torch.bool) if used is None else torch.from_numpy(used)
    for name in _tables(model):
        rows = stored.pop(name)[keep]
        full = torch.zeros_like(restored[name])
        if bits is None:
            stored[name + ".rows"], full[keep] = rows, rows.float()
        else:
            stored[name + ".codes"], stored[name + ".scale"], full[keep] = _quantised(rows, bits)
        restored[name] = full
    if used is not None:
        stored["kept_rows"] = torch.from_numpy(np.packbits(used))
    return stored, restored


def _sentiment_outputs(model, data: TaskData, device) -> np.ndarray:
    return np.exp(sentiment_log_probs(model, data, np.flatnonzero(data.review_split == "test"), device))


def _attribute_outputs(model, data: TaskData, device) -> np.ndarray:
    return np.hstack(attribute_probs(model, data, np.arange(len(data.item_emb)), device))


def _held_out_shoppers(data: TaskData) -> PurchaseSplit:
    return data.purchase["test"].subset(np.arange(min(MEASURE_SHOPPERS, len(data.purchase["test"].users))))


def _profile_outputs(model, data: TaskData, device) -> np.ndarray:
    return profile_probs(model, data, _held_out_shoppers(data), device)


def _purchase_outputs(model, data: TaskData, device) -> np.ndarray:
    shoppers = _held_out_shoppers(data)
    logits = purchase_scores(model, data, shoppers, device, eval_candidates(shoppers))
    return torch.softmax(torch.from_numpy(logits), -1).numpy()


# task -> (model, data, device) -> its probabilities on held-out inputs (n, k): what `measure` compares a pruned
# twin's answers on. Test reviews, every product (a third were never trained on), held-out shoppers (profile;
# purchase over their 1 + 99 candidates).
HELD_OUT = {
    SENTIMENT: _sentiment_outputs,
    ATTRIBUTES: _attribute_outputs,
    PROFILE: _profile_outputs,
    PURCHASE: _purchase_outputs,
}


def _entry(registry: dict, task: str, name: str):
    try:
        return registry[task]
    except KeyError:
        raise ValueError(
            f"twin export: expected an entry for task {task!r} in guide.evaluation.twin_export.{name}; got entries "
            f"for {list(registry)}; fix: add one for it there"
        ) from None


def task_outputs(model, data: TaskData, task: str, device) -> np.ndarray:
    """The task's probabilities on held-out inputs (`HELD_OUT`)."""
    return _entry(HELD_OUT, task, "HELD_OUT")(model, data, device)


def used_rows(data: TaskData) -> np.ndarray:
    """Buckets some training text hashes to (where idf is below the unseen value)."""
    return data.idf < data.idf.max()


def measure(twin: Checkpoint, data: TaskData, task: str, device, folder: Path | None = None) -> dict:
    """Bytes of `twin` as saved and pruned, and the largest / mean change of its probabilities."""
    model = twin.model.to(device).eval()
    used = used_rows(data)
    reference = task_outputs(model, data, task, device)
    saved = (folder / "model.safetensors").stat().st_size if folder else None
    table_bytes = sum(_saved_state(model)[n].numel() * 2 for n in _tables(model))
    rows = {"as saved (fp16)": {"bytes": saved or _file_bytes(_saved_state(model)), "max_change": 0.0}}
    for name, drop, bits in VARIANTS:
        stored, restored = pruned(model, used if drop else None, bits)
        variant = copy.deepcopy(model)
        variant.load_state_dict(restored, strict=False)
        change = np.abs(task_outputs(variant.eval(), data, task, device) - reference)
        rows[name] = {
            "bytes": _file_bytes(stored),
            "max_change": float(change.max()),
            "mean_change": float(change.mean()),
        }
    fits = [n for n, r in rows.items() if r["bytes"] <= SHIP_BYTES and r["max_change"] <= TOLERANCE]
    return {
        "variants": rows,
        "table_bytes": int(table_bytes),
        "rows_used": int(used.sum()),
        "rows": int(len(used)),
        "ships": fits[0] if fits else None,
    }


def _file_bytes(state: dict[str, torch.Tensor]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        save_file(state, path)
        return path.stat().st_size


# --- the artifact --------------------------------------------------------------------------------------
def export(
    checkpoint_dir: Path | str = DEFAULT_CHECKPOINT,
    runs: Path | str = RUNS,
    out: Path | str = DEFAULT_OUT,
    catalog: Catalog | None = None,
    encoder: Encoder | None = None,
    measured: bool = True,
    data: TaskData | None = None,
) -> Path:
    """Write `out/twins.npz`: the twins' predictions over what the shop shows and, with `measured`, how
    small each twin gets (`measure`). Refuses twins trained on other data or another tag vocabulary.
    `catalog`, `encoder` and `data` (built from `catalog` for the brand split) skip rebuilding them."""
    started = time.perf_counter()
    device = resolve_device(None)
    base = Checkpoint.load(checkpoint_dir, device)
    folders = find_twins(base, Path(runs))
    for task in folders:  # every twin's part (and measure) is known before any twin is run
        _entry(PARTS, task, "PARTS")
        if measured:
            _entry(HELD_OUT, task, "HELD_OUT")
    catalog = catalog or Catalog.load(None, base.config.data)
    buckets = base.model.config.ngram_buckets
    data = data or task_data.build(catalog, encoder or base.sentence_encoder(), base.config.data, "brand", buckets)
    check_checkpoint(base, "brand", catalog.fingerprint(), data.tags)
    shoppers = shipped_shoppers(catalog, base.config.data.max_history)
    arrays: dict[str, np.ndarray] = {
        "item_id": catalog.items["item_id"].to_numpy().astype(str).astype(np.bytes_),
        "shopper_id": np.array(shoppers.users, dtype=np.bytes_),
    }
    twins, hashes = {}, twin_hashes(base)
    for task, folder in folders.items():
        twin = Checkpoint.load(folder, device)
        check_checkpoint(twin, "brand", catalog.fingerprint(), data.tags)
        if tuple(twin.model.config.tasks) != (task,):
            raise ValueError(f"{folder}: expected a single-task twin of {task!r}; got tasks {twin.model.config.tasks}")
        part = _entry(PARTS, task, "PARTS")(twin, data, catalog, shoppers, device)
        arrays.update({f"{task}.{name}": values for name, values in part.items()})
        twins[task] = {
            "config_hash": hashes[task],
            "folder": folder.name,
            "best_step": twin.meta.get("best_step"),
            "tags": twin.tags,
            "categories": twin.categories,
            "interest_categories": [twin.interest_names[j] for j in twin.interest_columns("path2")],
            "pruning": measure(twin, data, task, device, folder) if measured else None,
        }
        logger.info("exported the %s twin (%.0f s so far)", task, time.perf_counter() - started)
    meta = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "shipped": {"fingerprint": base.fingerprint, "config_hash": config_key(base.config)},
        "sentiment_labels": list(SENTIMENT_LABELS),
        "limits": {"ship_bytes": SHIP_BYTES, "tolerance": TOLERANCE},
        "twins": twins,
        "seconds": round(time.perf_counter() - started, 1),
    }
    arrays["meta"] = np.array(json.dumps(meta))
    return _write(arrays, Path(out) / ARTIFACT)


def _write(arrays: dict[str, np.ndarray], path: Path) -> Path:
    """Compressed, written beside the target and renamed: a crash leaves the previous artifact whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    np.savez_compressed(temporary, **arrays)
    os.replace(temporary, path)
    logger.info("wrote %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


def pruning_lines(meta: dict) -> list[str]:
    """The measurement as a Markdown table (what `--measure` prints and the README shows)."""
    lines = ["| twin | variant | bytes | largest change | mean change |", "|---|---|---|---|---|"]
    for task, twin in meta["twins"].items():
        for name, row in (twin.get("pruning") or {}).get("variants", {}).items():
            mean = row.get("mean_change")
            lines.append(
                f"| {task} | {name} | {row['bytes'] / 1e6:.2f} MB | {row['max_change']:.2g} | "
                f"{'–' if mean is None else f'{mean:.2g}'} |"
            )
    return lines
