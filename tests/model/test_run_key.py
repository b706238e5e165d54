"""guide.model.run_key: the hash that names a twin's folder changes with every training setting, and leaves out
the settings whose default changes nothing trained (so twins trained before a setting existed are still found)."""

from __future__ import annotations

import copy

from guide.config import TrainConfig
from guide.model.run_key import config_key


def test_twin_key_changes_with_any_training_setting():
    base = TrainConfig()
    same = copy.deepcopy(base)
    assert config_key(base) == config_key(same)
    single = copy.deepcopy(base)
    single.model.tasks = ("purchase",)
    longer = copy.deepcopy(base)
    longer.steps += 1
    assert len({config_key(base), config_key(single), config_key(longer)}) == 3


def test_twin_key_ignores_short_text_settings_while_they_are_off():
    # The shipped twins and every cached twin were trained before the setting existed: with the draws off
    # (the default) the key must be the one they were stored under, or the shop would call them stale.
    import hashlib
    import json
    from dataclasses import asdict

    base = TrainConfig()
    values = asdict(base)
    for name in ("sentiment_sources", "sentence_share", "short_text_reviews"):
        del values["data"][name]
    del values["sentiment_balance"]  # off by default too: left out of the key
    for name in ("encoder", "encoder_id"):  # the base encoder (the default) is left out of the key too
        del values["model"][name]
    before = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]
    assert config_key(base) == before
    fewer = copy.deepcopy(base)
    fewer.data.short_text_reviews = 10  # unused while sentence_share is 0
    assert config_key(fewer) == before
    on, more = copy.deepcopy(base), copy.deepcopy(base)
    on.data.sentence_share = more.data.sentence_share = 0.3
    more.data.short_text_reviews = 10
    assert len({before, config_key(on), config_key(more)}) == 3
