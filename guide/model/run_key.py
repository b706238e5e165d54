"""The identity of a training run: a short hash of its configuration. A twin under `runs/` is reused, and a
stored twin prediction shown, only when it was trained the same way (`guide/model/twin_artifact.py`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from guide.config import SENTIMENT_SOURCES


def config_key(config) -> str:
    """A short hash of a training configuration: a twin is reused only when it was trained the same way."""
    values = asdict(config)
    if tuple(values["data"].get("sentiment_sources", ())) == SENTIMENT_SOURCES:
        del values["data"]["sentiment_sources"]  # the default: twins trained before the setting existed stay valid
    if not values["data"].get("sentence_share"):  # off (the default): its settings change nothing trained
        values["data"].pop("sentence_share", None)
        values["data"].pop("short_text_reviews", None)
    if not values.get("sentiment_balance"):  # off (the default): older twins keep their hash
        values.pop("sentiment_balance", None)
    for name in ("encoder", "encoder_id"):  # the base encoder (the default): older checkpoints keep their hash
        if not values["model"].get(name):
            values["model"].pop(name, None)
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]
