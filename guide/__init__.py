"""Shopping Guide: one shared multi-task model over real beauty products.

    from guide import Guide
    g = Guide.load()
    g.sentiment(["Love it, my skin feels soft"])[0].label

Heavy imports (torch, sentence-transformers) happen when `Guide` is first used.
"""

from __future__ import annotations

from guide.serving.results import Attributes, Prediction, Profile, Sentiment

__all__ = ["Guide", "Attributes", "Prediction", "Profile", "Sentiment"]


def __getattr__(name: str):
    if name == "Guide":
        from guide.serving.facade import Guide

        return Guide
    raise AttributeError(f"module 'guide' has no attribute {name!r}")
