"""The served purchase score taken apart, on the benchmark's protocol (`guide.evaluation.sequential`).

The shop's score is `neural * head + content * cosine + transitions * graph` (`guide.model.fusion`, weights
fitted on validation). Here each part is ranked alone — the shared model's head, the transition graph of the
train sequences, the content similarity of the model's own item vectors — beside the fused score, each by the
rules of `purchase_ranks` (every benchmark product with the shopper's whole history masked, 1 + 99 sampled,
and the whole catalogue): the rows differ only in the score. The fused row is the "MTL" row of the report
(a test holds them equal); the parts join the report as "MTL: …" rows, and `differences` gives the paired
bootstrap CI of fused minus each part.
"""

from __future__ import annotations

import numpy as np

from guide.config import TASKS
from guide.data.task_data import PurchaseSplit, TaskData
from guide.evaluation.evaluate import Statistic, _judge
from guide.evaluation.sequential import per_shopper
from guide.metrics import paired_bootstrap_ci
from guide.metrics.ranking import positions, target_ranks
from guide.model.fusion import Fusion
from guide.model.outputs import item_representations, purchase_scores
from guide.model.purchase_scoring import purchase_signals

HEAD, GRAPH, CONTENT = "MTL: head alone", "MTL: transition graph alone", "MTL: content similarity alone"
FUSED = "MTL"  # the served score: the report's own MTL row
PARTS = {HEAD: Fusion(1.0, 0.0, 0.0), GRAPH: Fusion(0.0, 0.0, 1.0), CONTENT: Fusion(0.0, 1.0, 0.0)}
COMPARED = ("full_hr@10", "full_ndcg@10")  # the metrics `differences` pairs


def part_ranks(model, data: TaskData, split: PurchaseSplit, device, fusion: Fusion | None, reps=None,
               chunk: int = 1024) -> dict[str, dict[str, np.ndarray]]:  # fmt: skip
    """{row: {"full", "catalogue", "sampled"}: 0-based ranks per shopper} for each part and the fused score
    (`fusion`; None: the head alone, as `purchase_ranks` reads it). One head pass and one signal pass per chunk."""
    reps = reps or item_representations(model, data, device)
    pool, everything = data.amazon_rows, np.arange(len(data.item_emb))
    weights = {**PARTS, FUSED: fusion or Fusion()}
    out: dict[str, dict[str, list]] = {name: {"full": [], "catalogue": [], "sampled": []} for name in weights}
    for start in range(0, len(split.target), chunk):
        picked = np.arange(start, min(start + chunk, len(split.target)))
        part = split.subset(picked)
        neural = purchase_scores(model, data, part, device, everything, reps)  # (n, N)
        content, transitions = purchase_signals(data, part.history, everything)
        seen = [split.seen[i] if split.seen is not None else split.history[i] for i in picked]
        excluded = [e[e >= 0] for e in (positions(s, pool) for s in seen)]
        target = positions(part.target, pool)
        columns = None
        if split.negatives is not None:
            candidates = np.concatenate([part.target[:, None], split.negatives[picked]], axis=1)
            columns = positions(candidates.ravel(), pool).reshape(candidates.shape)
        for name, weight in weights.items():
            scores = weight.combine(neural, content, transitions)
            out[name]["catalogue"].append(target_ranks(scores, part.target, seen))
            pooled = scores[:, pool]  # (n, |pool|)
            out[name]["full"].append(target_ranks(pooled, target, excluded))
            if columns is not None:
                sampled = np.take_along_axis(pooled, columns, 1)
                out[name]["sampled"].append(target_ranks(sampled, np.zeros(len(picked), np.int64)))
    return {name: {kind: np.concatenate(parts) for kind, parts in kinds.items() if parts}
            for name, kinds in out.items()}  # fmt: skip


def part_values(model, data: TaskData, split: str, device, fusion: Fusion | None, reps=None) -> dict[str, dict]:
    """{row: per-shopper metric arrays} of each part and the fused score on `split`."""
    ranks = part_ranks(model, data, data.purchase[split], device, fusion, reps)
    return {name: per_shopper(kinds) for name, kinds in ranks.items()}


def part_metrics(values: dict[str, dict], ci: bool = True) -> dict:
    """{"test": {row: {metric: value, metric_ci, n}}} of the parts (the fused row is the report's MTL row)."""
    return {
        "test": {
            name: _judge({m: Statistic(np.mean, (v,)) for m, v in per_row.items()}, ci)
            for name, per_row in values.items()
            if name != FUSED
        }
    }


def differences(values: dict[str, dict]) -> dict:
    """{part: {metric: fused - part, metric_ci: paired 95% bootstrap CI}}: what fusing adds to each part alone."""
    fused, out = values[FUSED], {}
    for name in PARTS:
        row = {}
        for metric in COMPARED:
            a, b = fused[metric], values[name][metric]
            row[metric] = float(a.mean() - b.mean())
            fn_a, fn_b = (lambda idx, x=a: x[idx].mean()), (lambda idx, x=b: x[idx].mean())
            row[f"{metric}_ci"] = list(paired_bootstrap_ci([(fn_a, fn_b, len(a))]))
        out[name] = row
    return out


def peer_names(report: dict) -> list[str]:
    """Every system of the report's task tables but the model, its twin and the model's own parts: the peers the
    summary picks the best of (a part of the served score is not a peer of it)."""
    names = {name for task in TASKS for rows in report.get(task, {}).values() for name in rows}
    return sorted(n for n in names if n not in ("MTL", "STL") and not n.startswith("MTL:"))
