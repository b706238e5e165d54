"""The report's summary: each task's headline for the multi-task model (MTL), its single-task twins (STL) and
the peers, verdicts — "beats" / "ties" / "behind" — decided by the CIs in one place (`decide`), and the average
relative gain of MTL over STL (delta_m, with and without twins below their task's trivial peer).

The per-task metrics it reads come from `guide/evaluation/evaluate.py`; headlines and trivial peers are live
views of the task registry (`guide/model/tasks.py`), so a task registered later is summarised too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from guide.metrics import paired_bootstrap_ci
from guide.model.tasks import TASK_SPECS


class _FromRegistry(Mapping):
    """A read-only view of one field of every registered task's spec (tasks registered later included)."""

    def __init__(self, field: Callable):
        self._field = field

    def __getitem__(self, task: str):
        if task not in TASK_SPECS:
            raise KeyError(task)
        return self._field(TASK_SPECS[task])

    def __iter__(self):
        return iter(TASK_SPECS)

    def __len__(self) -> int:
        return len(TASK_SPECS)


# task -> (slices, headline metric, higher is better), from the task registry
HEADLINES = _FromRegistry(lambda s: (s.headline.slices, s.headline.metric, s.headline.higher_is_better))
# The peer a twin must at least reach; a twin below it failed to train and would flatter MTL in delta_m.
TRIVIAL = _FromRegistry(lambda spec: spec.trivial_peer)
VERDICTS = ("beats", "ties", "behind")


def decide(
    a: float | None,
    b: float | None,
    higher_is_better: bool = True,
    diff_ci: list[float] | None = None,
    a_ci: list[float] | None = None,
    b_ci: list[float] | None = None,
) -> str | None:
    """Whether system a "beats", "ties" or is "behind" system b: by the 95% CI of the paired difference
    a - b when given (same resampled rows for both), else by non-overlapping CIs of a and b (stricter);
    None when neither is available. A point estimate alone never decides: 0.4836 vs 0.4828 is a tie."""
    if a is None or b is None:
        return None
    if diff_ci is not None:
        low, high = diff_ci
        above, below = low > 0, high < 0
    elif a_ci is not None and b_ci is not None:
        above, below = a_ci[0] > b_ci[1], a_ci[1] < b_ci[0]
    else:
        return None
    if not higher_is_better:
        above, below = below, above
    return "beats" if above else "behind" if below else "ties"


def _headline(report: dict, task: str, name: str) -> float | None:
    slices, metric, _ = HEADLINES[task]
    values = [report.get(task, {}).get(s, {}).get(name, {}).get(metric) for s in slices]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _headline_ci(report: dict, task: str, name: str) -> list[float] | None:
    """CI of the headline (a mean over slices): the mean of the slices' CI ends — at least as wide as
    the CI of the mean of independent slices, so a decision made with it is conservative."""
    slices, metric, _ = HEADLINES[task]
    present = [report[task][s][name] for s in slices if name in report.get(task, {}).get(s, {})]
    cis = [values.get(f"{metric}_ci") for values in present]
    if not cis or any(ci is None for ci in cis):
        return None
    return [float(np.mean([ci[0] for ci in cis])), float(np.mean([ci[1] for ci in cis]))]


def _paired_diff_ci(per_row: dict | None, task: str, a: str, b: str) -> list[float] | None:
    """95% CI of headline(a) - headline(b) with the same resampled rows for both, where both systems'
    per-row statistics exist for every headline slice."""
    if not per_row:
        return None
    slices = [s for s in HEADLINES[task][0] if s in per_row.get(a, {}).get(task, {})]
    pairs = []
    for s in slices:
        stat_a, stat_b = per_row[a][task][s], per_row.get(b, {}).get(task, {}).get(s)
        if stat_b is None or stat_b.n != stat_a.n:
            return None
        pairs.append((stat_a, stat_b, stat_a.n))
    return list(paired_bootstrap_ci(pairs)) if pairs else None


def _peer_values(report: dict, task: str, exclude: set[str], peers: list[str] | None) -> dict[str, float]:
    names = set()
    for values in report.get(task, {}).values():
        names.update(values)
    found = {n: _headline(report, task, n) for n in sorted(names - exclude) if peers is None or n in peers}
    return {n: v for n, v in found.items() if v is not None}


def _task_row(report: dict, task: str, mtl: str, stl: str, peers: list[str] | None, per_row: dict | None) -> dict:
    higher = HEADLINES[task][2]
    sign = 1 if higher else -1
    row = {name: _headline(report, task, key) for name, key in (("MTL", mtl), ("STL", stl))}
    row.update({"MTL_ci": _headline_ci(report, task, mtl), "STL_ci": _headline_ci(report, task, stl)})
    row["vs_stl_diff_ci"] = _paired_diff_ci(per_row, task, mtl, stl)
    row["vs_stl_rule"] = "paired bootstrap" if row["vs_stl_diff_ci"] is not None else "CI overlap"
    row["vs_stl"] = decide(row["MTL"], row["STL"], higher, row["vs_stl_diff_ci"], row["MTL_ci"], row["STL_ci"])
    if row["MTL"] is not None and row["STL"]:
        row["relative_gain_vs_stl"] = sign * (row["MTL"] - row["STL"]) / abs(row["STL"])
    peer_values = _peer_values(report, task, {mtl, stl}, peers)
    best = max(peer_values, key=lambda n: sign * peer_values[n]) if peer_values else None
    row.update(best_peer=best, best_peer_value=peer_values.get(best), best_peer_ci=None, vs_best_peer=None)
    if best:
        row["best_peer_ci"] = _headline_ci(report, task, best)
        row["vs_best_peer"] = decide(
            row["MTL"], row["best_peer_value"], higher, None, row["MTL_ci"], row["best_peer_ci"]
        )
        row["beats_best_peer"] = row["vs_best_peer"] == "beats"
    trivial = TRIVIAL[task]
    trivial_value = _headline(report, task, trivial)
    row.update(trivial_peer=trivial, trivial_value=trivial_value, stl_below_trivial=None)
    if trivial_value is not None and row["STL"] is not None:
        # a point estimate, on purpose: this is a sanity floor for a twin, not a claim about MTL
        row["stl_below_trivial"] = bool(sign * (row["STL"] - trivial_value) < 0)
    return row


def _delta_m(rows: dict[str, dict], keep: Callable[[dict], bool]) -> float | None:
    gains = [row["relative_gain_vs_stl"] for row in rows.values() if "relative_gain_vs_stl" in row and keep(row)]
    return float(np.mean(gains)) if gains else None


def summarise(
    report: dict, mtl: str = "MTL", stl: str = "STL", peers: list[str] | None = None, per_row: dict | None = None
) -> dict:
    """Headline per task with CIs; verdicts of MTL vs STL and vs the best peer (`decide`); delta_m of MTL
    over STL with every twin, and again without twins below their task's trivial peer (`TRIVIAL`).

    per_row: {system: {task: {slice: Statistic}}} from `model_metrics`, for paired MTL-vs-STL decisions;
    without it the decision falls back to CI overlap."""
    rows = {task: _task_row(report, task, mtl, stl, peers, per_row) for task in TASK_SPECS}
    excluded = {
        t: f"STL {r['STL']:.4f} < {r['trivial_peer']} {r['trivial_value']:.4f}"
        for t, r in rows.items()
        if r["stl_below_trivial"]
    }
    unchecked = [t for t, r in rows.items() if "relative_gain_vs_stl" in r and r["stl_below_trivial"] is None]
    return {
        "tasks": rows,
        "headline_metrics": {t: HEADLINES[t][1] for t in TASK_SPECS},
        "decision_rule": "paired bootstrap 95% CI of MTL - STL excludes 0, else non-overlapping 95% CIs",
        "delta_m": _delta_m(rows, lambda row: True),
        "delta_m_without_failed_twins": _delta_m(rows, lambda row: not row["stl_below_trivial"]),
        "twins_excluded": excluded,
        "twins_unchecked": unchecked,
    }
