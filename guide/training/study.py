"""A recorded configuration search (Optuna, TPE) over sharing scheme x weighting x sampling x rates.

Each trial trains the multi-task model for a short budget on the training split and is scored on the
validation split only (every task's validation metric and their mean, `validation_score`); the test split
is never read. The study's trials (parameters, per-task validation metrics, seconds) are written to a JSON
file that the report and the model page show, so the shipped configuration's choice can be checked.

Short budgets favour configurations that learn fast; that is the price of a search that fits 2 CPU cores,
and the JSON records the budget so nobody mistakes a trial's score for a fully trained model's.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path

from guide.config import SAMPLINGS, SHARING_SCHEMES, WEIGHTINGS, TrainConfig
from guide.data.task_data import TaskData
from guide.metrics.pareto import pareto
from guide.training.trainer import train

logger = logging.getLogger(__name__)

# The search space. Rates are searched on a log scale around the defaults; gram_dropout and dropout linearly.
SPACE = {
    "sharing": SHARING_SCHEMES,
    "weighting": WEIGHTINGS,
    "sampling": SAMPLINGS,
    "lr": (5e-4, 5e-3),
    "ngram_lr": (2e-3, 3e-2),
    "gram_dropout": (0.2, 0.6),
    "dropout": (0.1, 0.5),
}


def configure(base: TrainConfig, params: dict) -> TrainConfig:
    """`base` with a trial's parameters applied (validated by the config classes)."""
    config = copy.deepcopy(base)
    config.weighting, config.sampling = params["weighting"], params["sampling"]
    config.lr, config.ngram_lr, config.gram_dropout = params["lr"], params["ngram_lr"], params["gram_dropout"]
    config.model.sharing, config.model.dropout = params["sharing"], params["dropout"]
    config.__post_init__()
    config.model.__post_init__()
    return config


def suggest(trial) -> dict:
    """One point of `SPACE` from an Optuna trial."""
    return {
        "sharing": trial.suggest_categorical("sharing", list(SPACE["sharing"])),
        "weighting": trial.suggest_categorical("weighting", list(SPACE["weighting"])),
        "sampling": trial.suggest_categorical("sampling", list(SPACE["sampling"])),
        "lr": trial.suggest_float("lr", *SPACE["lr"], log=True),
        "ngram_lr": trial.suggest_float("ngram_lr", *SPACE["ngram_lr"], log=True),
        "gram_dropout": trial.suggest_float("gram_dropout", *SPACE["gram_dropout"]),
        "dropout": trial.suggest_float("dropout", *SPACE["dropout"]),
    }


def shipped_params(config: TrainConfig) -> dict:
    """The point of `SPACE` a configuration is (the first trial evaluates the current default)."""
    return {
        "sharing": config.model.sharing, "weighting": config.weighting, "sampling": config.sampling,
        "lr": config.lr, "ngram_lr": config.ngram_lr, "gram_dropout": config.gram_dropout,
        "dropout": config.model.dropout,
    }  # fmt: skip


def run_study(
    data: TaskData,
    base: TrainConfig,
    trials: int,
    out: Path,
    minutes: float | None = None,
    seed: int = 13,
    enqueue_base: bool = True,
) -> dict:
    """Run up to `trials` trials (or until `minutes` pass) and write the study to `out` after every trial,
    so a study cut short keeps what it measured. Returns the written document."""
    import optuna

    if trials < 1:
        raise ValueError(f"trials: expected >= 1; got {trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    if enqueue_base:
        study.enqueue_trial(shipped_params(base))
    records: list[dict] = []
    started = time.perf_counter()

    def objective(trial) -> float:
        params = suggest(trial)
        config = configure(base, params)
        config.eval_every = config.steps  # one validation, at the end of the budget
        began = time.perf_counter()
        checkpoint = train(data, config, progress=False, calibrate_after=False)
        last = checkpoint.meta["history"][-1]
        record = {
            "number": trial.number,
            "params": params,
            "score": round(float(last["score"]), 5),
            "val": {k: round(float(v), 5) for k, v in last["val"].items()},
            "seconds": round(time.perf_counter() - began, 1),
        }
        records.append(record)
        _write(out, base, records, time.perf_counter() - started)
        logger.info("trial %d: %.4f %s %s", trial.number, record["score"], params, record["val"])
        return record["score"]

    study.optimize(objective, n_trials=trials, timeout=minutes * 60 if minutes else None)
    return _write(out, base, records, time.perf_counter() - started)


def _write(out: Path, base: TrainConfig, records: list[dict], seconds: float) -> dict:
    best = max(records, key=lambda r: r["score"]) if records else None
    document = {
        "sampler": "optuna TPE (seed fixed); first trial = the configuration before the search",
        "objective": "mean of the tasks' validation metrics after the budget (validation split only)",
        "steps_per_trial": base.steps,
        "batch_size": base.batch_size,
        "space": {k: list(v) for k, v in SPACE.items()},
        "seconds": round(seconds, 1),
        "trials": records,
        "best": best,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1))
    return document


def load_study(folder: Path) -> dict | None:
    """The study recorded beside a checkpoint (`search.json`), or None."""
    path = Path(folder) / "search.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        logger.warning("search: %s unreadable (%s); left out of the report", path, error)
        return None


def study_lines(document: dict | None) -> list[str]:
    """The study as Markdown: its budget, then every trial, best first, with the trade-off front marked."""
    if not document or not document.get("trials"):
        return []
    trials = sorted(document["trials"], key=lambda r: -r["score"])
    tasks = list(trials[0]["val"])
    front = set(pareto(trials, tasks))
    lines = [
        f"\nConfiguration search ({len(trials)} trials of {document['steps_per_trial']} steps, "
        f"{document['seconds'] / 60:.0f} minutes; {document['sampler']}; objective: {document['objective']}; "
        "* = on the trade-off front: no other trial is better on every task):\n",
        "| trial | sharing | weighting | sampling | lr | ngram_lr | gram_dropout | dropout | "
        + " | ".join(tasks)
        + " | mean |",
        "|---" * (9 + len(tasks)) + "|",
    ]
    for r in trials:
        p = r["params"]
        cells = [
            f"{r['number']}{'*' if r['number'] in front else ''}", p["sharing"], p["weighting"], p["sampling"],
            f"{p['lr']:.4f}", f"{p['ngram_lr']:.4f}", f"{p['gram_dropout']:.2f}", f"{p['dropout']:.2f}",
            *(f"{r['val'][t]:.3f}" for t in tasks), f"{r['score']:.3f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines
