"""Where the single-task twins' stored predictions live and how they are stamped: the contract between the
evaluation that writes them (`guide/evaluation/twin_export.py`) and the shop that reads them
(`guide/serving/twins.py`), so the shop never imports the evaluation stage."""

from __future__ import annotations

import copy

from guide.config import DEFAULT_CHECKPOINT
from guide.model.run_key import config_key

FORMAT = 1
DEFAULT_OUT = DEFAULT_CHECKPOINT.parent / "twins"
ARTIFACT = "twins.npz"


def twin_config(base, task: str):
    """The training configuration of `task`'s twin of checkpoint `base`: its own with only that task on (the
    configuration `evaluation/report.py` trains the twin with)."""
    config = copy.deepcopy(base.config)
    config.model.tasks = (task,)
    return config


def twin_hashes(base) -> dict[str, str]:
    """Each twin's config hash (`run_key.config_key`), as the folder names under runs/ carry it."""
    return {task: config_key(twin_config(base, task)) for task in base.model.config.tasks}
