"""What a checkpoint must bring to be served over a catalogue: the data it was trained on and its calibration.

The purchase head learns one vector and bias per catalogue row, so a catalogue other than the one the
weights saw gives every product another product's vector: such a pair is refused, not warned about. A
checkpoint without its validation-tuned calibration (tag thresholds, sentiment class offsets, purchase fusion
weights and temperature) would show raw scores as if they were calibrated: refused unless the caller asks
for it, and then flagged (`Guide.uncalibrated`).
"""

from __future__ import annotations

from guide.config import ATTRIBUTES, PURCHASE, SENTIMENT

# The calibration each task's served answer reads (`guide/training/validation.calibrate` writes them).
CALIBRATION = {
    ATTRIBUTES: ("tag_thresholds",),
    PURCHASE: ("purchase_fusion", "purchase_temperature"),
    SENTIMENT: ("sentiment_bias",),
}


def check_data(checkpoint_fingerprint: str, catalog_fingerprint: str, folder: object = "") -> None:
    """ValueError when the catalogue is not the one the checkpoint was trained on ("" = not recorded: served)."""
    if checkpoint_fingerprint and checkpoint_fingerprint != catalog_fingerprint:
        raise ValueError(
            f"data fingerprint: expected {checkpoint_fingerprint} (the catalogue the checkpoint {folder} was trained "
            f"on), got {catalog_fingerprint}; the purchase head learns one vector per catalogue row, so these "
            "weights would score every product with another product's vector. Fix: serve it with the data it "
            "was trained on (GUIDE_DATA_DIR, the data config in its config.json) or retrain on these data"
        )


def missing_calibration(tasks, calibration: dict) -> list[str]:
    """The calibration entries the served `tasks` read that `calibration` lacks, in a stable order."""
    return [name for task in tasks for name in CALIBRATION.get(task, ()) if name not in calibration]


def check_calibration(tasks, calibration: dict, allow_uncalibrated: bool, folder: object = "") -> list[str]:
    """The missing entries (see `missing_calibration`); ValueError when any is missing and not allowed."""
    missing = missing_calibration(tasks, calibration)
    if missing and not allow_uncalibrated:
        raise ValueError(
            f"calibration: expected {', '.join(missing)} in the checkpoint {folder}, got "
            f"{sorted(calibration) or 'none'}; an uncalibrated model would show raw scores as calibrated. "
            "Fix: calibrate it (`python -m guide calibrate --checkpoint FOLDER`) or load it with "
            "allow_uncalibrated=True, which flags it as uncalibrated (Guide.uncalibrated)"
        )
    return missing
