"""The purchase section of the report on its own (`python -m guide evaluate --purchase`): the shipped model,
its score taken apart (`purchase_parts`), its single-task twin when asked, the purchase peers, the calibration
of the served probability and the published table, every measured figure on the test split with a 95% CI.

`build_report` (`evaluate`, `evaluate --full`) computes the same rows with every other task; this one leaves
the other tasks alone, and with `--save` merges its sections into the saved report row by row (rows it did not
recompute — the twin, the SASRec peer — are kept as saved, and the purchase verdicts and Δm are redone).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from guide.config import PURCHASE
from guide.evaluation import purchase_parts, purchase_seeds, sequential
from guide.evaluation.evaluate import Statistic, _judge
from guide.evaluation.report import _load, _scored, _twin
from guide.evaluation.summary import HEADLINES, _delta_m, _task_row
from guide.model.fusion import Fusion

logger = logging.getLogger(__name__)
PARTS_NOTE = (
    "MTL: the served score (head + content + transitions, weights fitted on validation); 'MTL: … alone' rows rank "
    "each part of it alone by the same rules; fused_minus_part: the served score minus that part, paired 95% "
    "bootstrap CI (the same resampled shoppers for both)"
)


def _means(values: dict[str, np.ndarray], ci: bool = True) -> dict:
    return _judge({name: Statistic(np.mean, (per_row,)) for name, per_row in values.items()}, ci)


def parts_section(values: dict[str, dict], fusion: Fusion | None) -> dict:
    """report["purchase_parts"]: what fusing adds to each part, and the fusion weights it was measured with."""
    return {
        "fused_minus_part": purchase_parts.differences(values),
        "fusion": (fusion or Fusion()).to_dict(),
        "note": PARTS_NOTE,
    }


def add_parts(report: dict, base, data, device) -> dict[str, dict]:
    """Add the "MTL: … alone" rows and report["purchase_parts"] to `report`; the per-shopper values back."""
    stored = base.calibration.get("purchase_fusion")
    fusion = Fusion(**stored) if stored else None
    values = purchase_parts.part_values(base.model, data, "test", device, fusion)
    report.setdefault(PURCHASE, {}).setdefault("test", {}).update(purchase_parts.part_metrics(values)["test"])
    report["purchase_parts"] = parts_section(values, fusion)
    metric = HEADLINES[PURCHASE][1]
    served = report[PURCHASE]["test"].get("MTL", {}).get(metric)
    if served is not None and abs(served - values[purchase_parts.FUSED][metric].mean()) > 1e-9:
        logger.warning("purchase parts: the fused score's %s %.6f differs from the MTL row's %.6f", metric,
                       values[purchase_parts.FUSED][metric].mean(), served)  # fmt: skip
    return values


def purchase_peer_rows(
    data, sasrec: bool | tuple[str, ...] = False, sasrec_minutes: float | None = None
) -> dict[str, dict]:
    """{peer: metrics with CIs} of the purchase peers on the test split (SASRec only when asked: it trains)."""
    names = sequential.peer_names(sasrec)
    with threadpool_limits(limits=1):  # the machine is shared with training; more BLAS threads only contend
        values = sequential.peer_values(data, "test", names, sasrec_minutes)
    return {name: _means(per_row) for name, per_row in values.items()}


def build_purchase(checkpoint_dir: Path, saved: dict | None = None, twin: bool = False,
                   sasrec: bool | tuple[str, ...] = False,
                   sasrec_minutes: float | None = None, progress: bool = True,
                   seeds: list[Path] | None = None,
                   peer_seeds: dict[str, list[int]] | None = None) -> dict:  # fmt: skip
    """{"purchase", "purchase_parts", "purchase_calibration", "summary", "meta"} of the checkpoint; rows of
    `saved` (a saved report) that are not recomputed here are carried over, and the verdicts use them. `seeds`:
    other training seeds of the same recipe, scored into "purchase_seeds" (`purchase_seeds`); `peer_seeds`: {trained
    peer: other seeds} (`purchase_seeds.peer_plan`), into "peer_seeds" (merged peer by peer with the saved ones)."""
    started = time.perf_counter()
    device, base, catalog, _, data = _load(checkpoint_dir, None, None)
    if PURCHASE not in base.model.config.tasks:
        raise ValueError(f"purchase: expected a checkpoint with the {PURCHASE!r} task; got {base.model.config.tasks}")
    report = {PURCHASE: {"test": dict((saved or {}).get(PURCHASE, {}).get("test", {}))}}
    report[PURCHASE]["test"].pop("MTL", None)  # rescored below, from the same pass as the parts
    values = add_parts(report, base, data, device)
    if seeds:
        report["purchase_seeds"] = purchase_seeds.seed_section(
            base, purchase_seeds.means(values), seeds, data, catalog, device
        )
    rows = report[PURCHASE]["test"]
    rows["MTL"] = _means(values[purchase_parts.FUSED])
    metric = HEADLINES[PURCHASE][1]
    per_row = {"MTL": {PURCHASE: {"test": Statistic(np.mean, (values[purchase_parts.FUSED][metric],))}}, "STL": {}}
    if twin:
        model = _twin(f"stl-{PURCHASE}", base, data, catalog, progress, device, tasks=(PURCHASE,))
        rows["STL"] = _scored(model, data, device, per_row["STL"])[PURCHASE]["test"]
    rows.update(purchase_peer_rows(data, sasrec, sasrec_minutes))
    holding = purchase_seeds.still_holding(report, saved)  # None: the saved section goes (`merge_purchase`)
    report.setdefault("purchase_seeds", holding["purchase_seeds"])
    report["peer_seeds"] = holding["peer_seeds"]
    if peer_seeds:
        with threadpool_limits(limits=1):
            saved_seeds = holding["peer_seeds"] or {}
            fresh = purchase_seeds.peer_section(data, peer_seeds, rows, sasrec_minutes, saved_seeds)
        report["peer_seeds"] = {**saved_seeds, **fresh}
    stored = base.calibration.get("purchase_fusion")
    report["purchase_calibration"] = sequential.calibration(
        base.model, data, device, Fusion(**stored) if stored else None,
        float(base.calibration.get("purchase_temperature", 1.0)),
    )  # fmt: skip
    report["summary"] = _summary(report, (saved or {}).get("summary", {}), per_row if twin else None)
    report["meta"] = dict((saved or {}).get("meta", {}))
    report["meta"].update(published=sequential.published(), purchase_seconds=round(time.perf_counter() - started, 1))
    return report


def _summary(report: dict, saved: dict, per_row: dict | None) -> dict:
    """The saved summary with the purchase row redone (paired vs the twin when it was rescored, else by CI
    overlap) and Δm recomputed over the task rows."""
    peers = purchase_parts.peer_names(report)
    summary = json.loads(json.dumps(saved, default=float)) if saved else {"tasks": {}}
    row = _task_row(report, PURCHASE, "MTL", "STL", peers, per_row)
    before = summary["tasks"].get(PURCHASE, {})
    unchanged = (before.get("MTL"), before.get("STL")) == (row["MTL"], row["STL"])
    if per_row is None and before.get("vs_stl_diff_ci") and unchanged:  # the saved paired decision still holds
        row.update({key: before[key] for key in ("vs_stl_diff_ci", "vs_stl_rule", "vs_stl")})
    summary["tasks"][PURCHASE] = row
    rows = summary["tasks"]
    if any("relative_gain_vs_stl" in row for row in rows.values()):
        summary["delta_m"] = _delta_m(rows, lambda row: True)
        summary["delta_m_without_failed_twins"] = _delta_m(rows, lambda row: not row.get("stl_below_trivial"))
    return summary


def merge_purchase(report: dict, checkpoint_dir: Path) -> Path:
    """Write the sections of `build_purchase` into the saved report.json (a seed section that is None, no longer
    holding, is removed); every other section stays as saved."""
    from guide.evaluation.report import merge_saved

    keys = (PURCHASE, "purchase_parts", "purchase_calibration", "purchase_seeds", "peer_seeds", "summary", "meta")
    return merge_saved({key: report[key] for key in keys if key in report}, Path(checkpoint_dir))
