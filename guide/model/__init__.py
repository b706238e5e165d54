"""Stage 2, model: the multi-task model: shared input encoder + trunk (sharing schemes), towers and heads."""

from guide.model.network import GuideModel
from guide.model.trunk import SCHEMES

__all__ = ["GuideModel", "SCHEMES"]
