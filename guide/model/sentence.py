"""The shared sentence encoder as a trainable module: pre-tokenised texts, padded batches, export.

Fine-tuning (`guide/training/finetune.py`) runs the texts of the text tasks through the transformer itself:
token-level mean pooling and unit length, all-MiniLM-L6-v2's own pipeline, so at the start its output is
the very vector the frozen embedding cache holds and the trunk above it needs no re-learning. Texts are
tokenised once (`TokenTable`) and cut at `MAX_TOKENS`; a batch is padded to its own longest text only,
which is why training draws texts of similar length together (`training.batches`).

The fine-tuned encoder is saved as an ordinary sentence-transformers folder (`export`, float16) beside the
checkpoint's weights, so serving and the embedding cache load it like the base encoder, under an id made
from its weights (a cache never mixes two encoders' vectors).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from guide.config import encoder_name

logger = logging.getLogger(__name__)

MAX_TOKENS = 128  # the longest text a training step reads (and the exported encoder serves)
TOKENISE_CHUNK = 2048  # texts per tokenizer call (bounded memory on 45k reviews)


def load_trainable(name: str | None = None, max_tokens: int = MAX_TOKENS, device: str | torch.device = "cpu"):
    """The sentence-transformers model (transformer -> mean pooling -> unit length) in float32, ready to train."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(name or encoder_name(), device=str(device))
    model.max_seq_length = max_tokens
    return model.float()


def transformer(model) -> torch.nn.Module:
    """The BERT-style network inside a sentence-transformers model (embeddings + encoder layers)."""
    return model[0].auto_model


@dataclass
class TokenTable:
    """Token ids of a list of texts, each with [CLS] ... [SEP] and at most `max_tokens` ids."""

    ids: list[np.ndarray]

    @classmethod
    def build(cls, tokenizer, texts: list[str], max_tokens: int = MAX_TOKENS) -> TokenTable:
        ids: list[np.ndarray] = []
        for start in range(0, len(texts), TOKENISE_CHUNK):
            chunk = [str(t)[:4000] for t in texts[start : start + TOKENISE_CHUNK]]
            encoded = tokenizer(chunk, truncation=True, max_length=max_tokens)["input_ids"]
            ids.extend(np.asarray(row, dtype=np.int32) for row in encoded)
        return cls(ids)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        if getattr(self, "_lengths", None) is None:
            self._lengths = np.array([len(row) for row in self.ids], dtype=np.int64)
        return self._lengths

    def batch(self, rows, device) -> dict[str, torch.Tensor]:
        """input_ids / attention_mask / token_type_ids of `rows`, padded to the longest of them."""
        picked = [self.ids[r] for r in rows]
        width = max((len(row) for row in picked), default=1)
        ids = np.zeros((len(picked), width), np.int64)  # 0 = [PAD]
        mask = np.zeros((len(picked), width), np.int64)
        for i, row in enumerate(picked):
            ids[i, : len(row)], mask[i, : len(row)] = row, 1
        return {
            "input_ids": torch.from_numpy(ids).to(device),
            "attention_mask": torch.from_numpy(mask).to(device),
            "token_type_ids": torch.zeros(ids.shape, dtype=torch.long, device=device),
        }  # (N, L) each


def embed_tokens(model, features: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N, 384) unit-length sentence vectors of a padded token batch, with gradients when training."""
    return model(dict(features))["sentence_embedding"]


def freeze_lowest(model, layers: int) -> None:
    """No gradients for the token embeddings and the lowest `layers` transformer layers (0: embeddings only
    stay trainable too)."""
    net = transformer(model)
    if layers > 0:
        net.embeddings.requires_grad_(False)
    for layer in net.encoder.layer[:layers]:
        layer.requires_grad_(False)


def parameter_groups(model, lr: float, decay: float, weight_decay: float) -> list[dict]:
    """AdamW groups with layer-wise learning-rate decay: the top layer at `lr`, each lower one `decay` times
    the one above it, the embeddings below the lowest (ULMFiT / ELECTRA's discriminative rates)."""
    net = transformer(model)
    layers = list(net.encoder.layer)
    groups = []
    for depth, module in enumerate([net.embeddings, *layers]):
        params = [p for p in module.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * decay ** (len(layers) - depth), "weight_decay": weight_decay})
    pooler = [p for p in net.pooler.parameters() if p.requires_grad] if getattr(net, "pooler", None) else []
    if pooler:  # unused by mean pooling; kept out of the optimiser's way
        for p in pooler:
            p.requires_grad_(False)
    return groups


def export(model, folder: Path | str) -> str:
    """Save the encoder as a sentence-transformers folder in float16 (half the size; loaded back as float32)
    and return its cache id, made from the saved weights."""
    import copy

    folder = Path(folder)
    half = copy.deepcopy(model).to("cpu").half()
    half.save(str(folder))
    digest = hashlib.sha1((folder / "model.safetensors").read_bytes()).hexdigest()[:12]
    logger.info("saved the fine-tuned encoder to %s (id %s)", folder, digest)
    return f"guide-minilm-ft-{digest}"
