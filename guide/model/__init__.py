"""Stage 2, model: the multi-task model: shared input encoder + trunk (sharing schemes), towers and heads.

`GuideModel` and `SCHEMES` load torch when first used, so the torch-free modules here (`run_key`,
`twin_artifact`) can be read by the shop without it."""

from __future__ import annotations

__all__ = ["GuideModel", "SCHEMES"]


def __getattr__(name: str):
    if name == "GuideModel":
        from guide.model.network import GuideModel

        return GuideModel
    if name == "SCHEMES":
        from guide.model.trunk import SCHEMES

        return SCHEMES
    raise AttributeError(f"module 'guide.model' has no attribute {name!r}")
