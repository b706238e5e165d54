"""Checkpoint = safetensors weights + JSON (config, vocabularies, calibration, data fingerprint, metrics).

What the model was trained on travels with it, so evaluation can refuse data it was not made for: the
catalogue's `fingerprint` and, in `meta`, the `attribute_split` (brand or product) of its attribute task.

Weights are stored as float16 (half the size in the repo) and loaded back as float32; the config
inside rebuilds the exact model on any device. The device itself is never stored nor read back: it belongs
to the run (`guide/model/device.py`), not to the model.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from guide.config import DEFAULT_CHECKPOINT, DataConfig, ModelConfig, TrainConfig
from guide.data.text import EmbeddingCache, Encoder
from guide.model import GuideModel

logger = logging.getLogger(__name__)
FORMAT = 1
LEGACY_MODEL_FIELDS = {"lexicon_features": 0}  # ModelConfig fields newer than some saved checkpoints
LEGACY_DATA_FIELDS = {"format_share": 0.0, "sentence_share": 0.0}  # DataConfig fields newer than some saved checkpoints


@dataclass
class Checkpoint:
    model: GuideModel
    config: TrainConfig
    tags: list[str]
    categories: list[str]
    calibration: dict  # tag thresholds, sentiment class offsets
    fingerprint: str = ""
    meta: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    attribute_split: str = ""  # "brand" or "product"; "" = not recorded (checkpoints saved before it was)
    interests: list[str] = field(default_factory=list)  # the profile's vocabulary ([]: categories + tags, older)
    interest_kinds: list[str] = field(default_factory=list)  # "path1".."path3" / "brand" / "tag" per interest

    @property
    def interest_names(self) -> list[str]:
        return self.interests or self.categories + self.tags

    def interest_columns(self, kind: str) -> np.ndarray:
        """Columns of `interest_names` of one kind ("path2" = the categories the shop shows; the older layout's
        categories stand for it, then its tags)."""
        kinds = self.interest_kinds or ["path2"] * len(self.categories) + ["tag"] * len(self.tags)
        return np.flatnonzero(np.array(kinds) == kind)

    @property
    def encoder_folder(self) -> Path | None:
        """The fine-tuned sentence encoder saved beside the weights (None: the model reads the base encoder)."""
        name = self.model.config.encoder
        if not name:
            return None
        if "folder" not in self.meta:
            raise ValueError("encoder_folder: expected a saved checkpoint (meta.folder); fix: save, then load it")
        return Path(self.meta["folder"]) / name

    def sentence_encoder(self, cache_root: Path | str | None = None, device: str | None = None) -> Encoder:
        """The sentence encoder this model reads, in front of its own embedding cache under `cache_root`
        (default: `config.embedding_dir()`); a fine-tuned one is cached under its own id, never beside the base's."""
        folder = self.encoder_folder
        if folder is None:
            return Encoder(cache=EmbeddingCache(cache_root) if cache_root else None, device=device)
        if not (folder / "modules.json").exists():
            raise FileNotFoundError(
                f"expected the fine-tuned sentence encoder of this checkpoint in {folder}; got no modules.json "
                "there; fix: copy the checkpoint folder whole (its encoder/ folder included) or retrain it"
            )
        return Encoder(str(folder), EmbeddingCache(cache_root, model_id=self.model.config.encoder_id), device)

    def save(self, folder: Path | str = DEFAULT_CHECKPOINT) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            k: v.detach().to("cpu", torch.float16).contiguous()
            for k, v in self.model.state_dict().items()
            if v.is_floating_point()
        }
        # Both files are written beside their targets and then renamed, the weights last: a crash leaves
        # the previous pair (or a new config.json that the load check refuses), never half a file.
        save_file(state, folder / "model.safetensors.tmp")
        train_config = dict(asdict(self.config), device=None)  # where it ran is this run's, not the model's
        document = {
            "format": FORMAT,
            "model": self.model.config.to_dict(),
            "train": train_config,
            "tags": self.tags,
            "categories": self.categories,
            "interests": {"names": self.interests, "kinds": self.interest_kinds},
            "calibration": self.calibration,
            "fingerprint": self.fingerprint,
            "meta": dict(self.meta, attribute_split=self.attribute_split),
            "metrics": self.metrics,
        }
        (folder / "config.json.tmp").write_text(json.dumps(document, indent=1, default=float))
        os.replace(folder / "config.json.tmp", folder / "config.json")
        os.replace(folder / "model.safetensors.tmp", folder / "model.safetensors")
        logger.info("saved checkpoint to %s", folder)
        return folder

    @classmethod
    def load(cls, folder: Path | str = DEFAULT_CHECKPOINT, device: torch.device | str = "cpu") -> Checkpoint:
        folder = Path(folder)
        if not (folder / "config.json").exists() or not (folder / "model.safetensors").exists():
            raise FileNotFoundError(
                f"expected a checkpoint (config.json + model.safetensors) in {folder}; "
                "fix: train one with `python -m guide train` or pass the folder of one"
            )
        document = json.loads((folder / "config.json").read_text())
        if document.get("format") != FORMAT:
            raise ValueError(f"checkpoint format: expected {FORMAT}; got {document.get('format')}")
        # fields added after a checkpoint was written get the value that checkpoint was trained with
        model_config = ModelConfig(
            **{**LEGACY_MODEL_FIELDS, **document["model"], "tasks": tuple(document["model"]["tasks"])}
        )
        # `device` is a run-time setting (GUIDE_DEVICE, --device): one saved by an older checkpoint is not
        # replayed, so the twins of a CUDA-trained model train wherever they are asked to.
        train = dict(document["train"], device=None)
        train_config = TrainConfig(
            **{**train, "model": model_config, "data": DataConfig(**{**LEGACY_DATA_FIELDS, **train["data"]})}
        )
        model = GuideModel(model_config)
        state = {k: v.float() for k, v in load_file(folder / "model.safetensors").items()}
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as err:
            first = next((line.strip() for line in str(err).splitlines() if "mismatch" in line), str(err)[:200])
            raise ValueError(
                f"checkpoint in {folder} does not match its config.json ({first}); "
                "fix: re-save the checkpoint or restore the original config.json"
            ) from err
        if unexpected or [m for m in missing if m in dict(model.named_parameters())]:
            raise ValueError(
                f"checkpoint does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        model.to(device).eval()
        meta = dict(document.get("meta", {}), folder=str(folder))
        attribute_split = meta.pop("attribute_split", "")
        if attribute_split not in ("", "brand", "product"):
            raise ValueError(
                f"checkpoint in {folder}: expected meta.attribute_split 'brand' or 'product'; got "
                f"{attribute_split!r}; fix: correct config.json or retrain with --attribute-split"
            )
        return cls(
            model,
            train_config,
            document["tags"],
            document["categories"],
            document["calibration"],
            document.get("fingerprint", ""),
            meta,
            document.get("metrics", {}),
            attribute_split,
            list(document.get("interests", {}).get("names", [])),
            list(document.get("interests", {}).get("kinds", [])),
        )
