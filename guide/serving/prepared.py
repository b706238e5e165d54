"""What `Guide` derives from a checkpoint and a catalogue before its first request, kept on disk.

Serving needs, per catalogue product, only what no request changes: the profile head's product
representations, the purchase head's product vectors, every product's tag and category probabilities,
and the purchase-transition graph of the train sequences. Computing them means hashing the n-grams of
20,951 product texts and running them through the trunk (~2.5 s of every start on the 2-core machine);
reading them back takes a few tens of milliseconds. They are kept in one `.npz` per (weights, model
config, catalogue, code) under GUIDE_CACHE_DIR, beside the catalogue cache, and rebuilt when any of
those changes. "Code" is what fills the file: the function that computes the arrays (its own source,
wherever it lives), the modules it calls (`SOURCES`) and the versions of the libraries that do the
arithmetic. The values are the computed ones, saved exactly (float32), so outputs do not change.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy
import torch
from scipy import sparse

from guide.config import cache_dir, encoder_id

logger = logging.getLogger(__name__)

VERSION = 1  # bump when what is stored changes meaning
KEPT = 4  # prepared catalogues kept (the shipped model, a served GUIDE_CHECKPOINT, tests' tiny ones)
# The modules the filling function calls: a change in any of them makes a new key (the function itself is
# hashed from its own source, see `key`).
SOURCES = (
    "data/beauty.py",  # the benchmark's source name, which picks the sequences of the transition graph
    "data/purchase_signals.py",
    "data/task_data.py",
    "data/text.py",
    "model/heads.py",
    "model/inputs.py",
    "model/network.py",
    "model/outputs.py",
    "model/tasks.py",
    "model/trunk.py",
    "serving/prepared.py",
    "serving/served_tasks.py",  # what a product-level task keeps of every product
)
GRAPH = ("graph_data", "graph_indices", "graph_indptr", "graph_shape")


def fill_source(fill: Callable) -> bytes:
    """The source of the function that fills the arrays (its compiled code where no source is at hand)."""
    function = inspect.unwrap(getattr(fill, "__func__", fill))
    try:
        return inspect.getsource(function).encode()
    except (OSError, TypeError):
        code = function.__code__
        return code.co_code + repr(code.co_consts).encode()


def key(model: torch.nn.Module, config: dict, catalog_fingerprint: str, device: torch.device, fill: Callable) -> str:
    """A digest of the weights, the model config, the catalogue, the sentence encoder, the device type and
    the code that computes the prepared arrays: `fill` (the function `load_or_build` will be given), the
    modules in `SOURCES` and the versions of torch, numpy and scipy."""
    digest = hashlib.blake2b(digest_size=16)
    versions = [torch.__version__, np.__version__, scipy.__version__]
    digest.update(json.dumps([VERSION, config, catalog_fingerprint, encoder_id(), device.type, versions]).encode())
    digest.update(fill_source(fill))
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    root = Path(__file__).resolve().parents[1]  # the guide package
    for source in SOURCES:
        digest.update((root / source).read_bytes())
    return digest.hexdigest()


def graph_arrays(matrix: sparse.csr_matrix) -> dict[str, np.ndarray]:
    return dict(zip(GRAPH, (matrix.data, matrix.indices, matrix.indptr, np.array(matrix.shape)), strict=True))


def graph_matrix(arrays: dict[str, np.ndarray]) -> sparse.csr_matrix:
    data, indices, indptr, shape = (arrays[name] for name in GRAPH)
    return sparse.csr_matrix((data, indices, indptr), shape=tuple(shape))


def load_or_build(digest: str, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays stored under `digest`, else `build()` (then stored; a read-only cache is only logged)."""
    folder = cache_dir()
    path = folder / f"serving-{digest}.npz" if folder else None
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            logger.info("prepared catalogue from %s", path)
            return arrays
        except (OSError, ValueError, KeyError) as error:
            logger.warning("prepared catalogue %s unreadable (%s); computing it again", path, error)
    arrays = build()
    if path is not None:
        _store(path, arrays)
    return arrays


def _store(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            np.savez(handle, **arrays)
        os.replace(handle.name, path)
        older = sorted(path.parent.glob("serving-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)[KEPT:]
        for stale in older:
            stale.unlink(missing_ok=True)
    except OSError as error:  # a read-only home is fine: the arrays are computed on each start
        logger.warning("could not store the prepared catalogue in %s (%s)", path.parent, error)
