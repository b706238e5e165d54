"""Session fixtures for the core tests: a private embedding cache, a small real catalogue, its task
data, and a tiny trained checkpoint with the `Guide` loaded from it.

Use from a test module with `pytest_plugins = ["tests.core_fixtures"]`. Nothing here writes into
`assets/`: the shipped embedding cache is copied into a temporary folder and `GUIDE_EMBEDDING_DIR`
points there for the whole session, so the shipped texts are never embedded again.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from guide.config import DEFAULT_EMBEDDING_DIR, DataConfig, ModelConfig, TrainConfig

NGRAM_BUCKETS = 2**12  # small lexical table keeps every test model tiny


def small_data_config() -> DataConfig:
    """A real slice of the data: all Amazon shoppers, 10% of Sephora, 2% of the clothing reviews; purchase
    draws of 16 shoppers against 128 sampled products (the shipped model: 128 against 1,024); 30% of the
    sentiment draws as short texts of 150 training reviews per source (the shipped model: whole reviews only)."""
    return DataConfig(
        clothing_fraction=0.02,
        sephora_fraction=0.1,
        purchase_users=16,
        purchase_negatives=128,
        sentence_share=0.3,
        short_text_reviews=150,
    )


def tiny_model_config(**overrides) -> ModelConfig:
    values = dict(hidden=32, ngram_buckets=NGRAM_BUCKETS, ngram_dim=8, num_experts=2)
    return ModelConfig(**{**values, **overrides})


def tiny_train_config(**overrides) -> TrainConfig:
    """40 CPU steps on the small slice: seconds, yet enough to move every head off its init."""
    values = dict(
        steps=40, eval_every=20, batch_size=16, device="cpu", model=tiny_model_config(), data=small_data_config()
    )
    return TrainConfig(**{**values, **overrides})


@contextlib.contextmanager
def single_threaded():
    """Run torch and the BLAS/OpenMP pools on one thread. The test models and data are tiny and the two
    cores are shared with training runs: spinning thread pools made a validation pass ~100x and the
    silver-category fit ~10x slower than one thread does."""
    import sklearn.linear_model  # noqa: F401  (loads scipy's own BLAS so the limit below reaches it)
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def few_validation_shoppers(count: int = 300):
    """Validation checks and the purchase calibration rank `count` shoppers instead of thousands: the same code,
    in seconds (the small slice keeps every Amazon shopper)."""
    from guide.training import validation

    saved = validation.VALIDATION_SHOPPERS, validation.CALIBRATION_SHOPPERS
    validation.VALIDATION_SHOPPERS = validation.CALIBRATION_SHOPPERS = count
    try:
        yield
    finally:
        validation.VALIDATION_SHOPPERS, validation.CALIBRATION_SHOPPERS = saved


@pytest.fixture
def one_thread():
    """Use as `pytestmark = pytest.mark.usefixtures("one_thread")` in modules that run models."""
    with single_threaded():
        yield


@pytest.fixture
def few_shoppers():
    """`few_validation_shoppers` for one test."""
    with few_validation_shoppers():
        yield


@pytest.fixture(scope="session")
def embedding_dir(tmp_path_factory) -> Path:
    """A copy of the shipped cache; `GUIDE_EMBEDDING_DIR` points at it for the session."""
    folder = tmp_path_factory.mktemp("embeddings")
    shutil.copytree(DEFAULT_EMBEDDING_DIR, folder, dirs_exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GUIDE_EMBEDDING_DIR", str(folder))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        yield folder


@pytest.fixture(scope="session")
def encoder(embedding_dir):
    from guide.data.text import EmbeddingCache, Encoder

    return Encoder(cache=EmbeddingCache(embedding_dir))


@pytest.fixture(scope="session")
def small_catalog():
    from guide.data.catalog import Catalog

    return Catalog.load(config=small_data_config())


@pytest.fixture(scope="session")
def task_data(small_catalog, encoder):
    from guide.data import task_data

    with single_threaded():
        return task_data.build(small_catalog, encoder, small_data_config(), "brand", ngram_buckets=NGRAM_BUCKETS)


@pytest.fixture(scope="session")
def tiny_checkpoint(task_data, small_catalog):
    """The trained (unsaved) checkpoint; tests must not modify its model. Validation checks and the
    purchase calibration rank 300 shoppers instead of thousands: the same code, in seconds."""
    from guide.training.trainer import train

    with few_validation_shoppers(), single_threaded():
        return train(task_data, tiny_train_config(), small_catalog, progress=False)


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(tiny_checkpoint, tmp_path_factory) -> Path:
    return tiny_checkpoint.save(tmp_path_factory.mktemp("checkpoint"))


@pytest.fixture(scope="session")
def guide(tiny_checkpoint_dir, embedding_dir):
    from guide.serving.facade import Guide

    with single_threaded():
        return Guide.load(path=tiny_checkpoint_dir, device="cpu")


# --- four tiny real single-task twins of the tiny model (tests/serving/test_twins.py, the twins' views) --------
@pytest.fixture(scope="session")
def base(tiny_checkpoint_dir):
    """The tiny model as `evaluate` and the app load it (its saved config carries the vocabulary sizes)."""
    from guide.model.checkpoint import Checkpoint

    return Checkpoint.load(tiny_checkpoint_dir)


@pytest.fixture(scope="session")
def runs(base, task_data, small_catalog, tmp_path_factory):
    """A runs/ folder holding four real single-task twins of the tiny model, named as `evaluate` names them."""
    from guide.config import TASKS
    from guide.evaluation import twin_export
    from guide.model import twin_artifact
    from guide.training.trainer import train

    folder = tmp_path_factory.mktemp("runs")
    with few_validation_shoppers(), single_threaded():
        for task in TASKS:
            twin = train(task_data, twin_artifact.twin_config(base, task), small_catalog, progress=False)
            twin.attribute_split = "brand"
            twin.save(twin_export.twin_folder(base, task, folder))
    return folder


@pytest.fixture(scope="session")
def artifact(runs, tiny_checkpoint_dir, small_catalog, encoder, task_data, tmp_path_factory):
    """The twins' stored predictions exported from `runs` (what `python -m guide twins` writes)."""
    from guide.evaluation import twin_export

    with single_threaded():
        return twin_export.export(
            tiny_checkpoint_dir, runs, tmp_path_factory.mktemp("twins"), small_catalog, encoder, False, task_data
        )


# --- synthetic batches for model-level tests (no data needed) --------------------------------------
TAGS, CATEGORIES = 5, 4  # vocabulary sizes of the synthetic model


def synthetic_model(sharing: str = "mmoe", **overrides):
    """A GuideModel small enough to build hundreds of times; dropout off so outputs are repeatable."""
    from guide.model import GuideModel

    values = dict(
        sharing=sharing,
        hidden=16,
        ngram_buckets=64,
        ngram_dim=4,
        num_experts=2,
        dropout=0.0,
        num_tags=TAGS,
        num_categories=CATEGORIES,
        num_interests=TAGS + CATEGORIES,
        sequence_dropout=0.0,
        num_items=10,  # the purchase head's per-product vectors for the synthetic batch's catalogue rows
    )
    return GuideModel(ModelConfig(**{**values, **overrides}))


def synthetic_batch(
    seed: int = 0, items: int = 10, shoppers: int = 4, length: int = 3, candidates: int = 5, reviews: int = 6
) -> dict:
    """Every input of GuideModel.forward: products, attribute rows, reviews, histories, candidates."""
    import torch

    g = torch.Generator().manual_seed(seed)

    def block(n: int, feats: bool) -> dict:
        emb = torch.nn.functional.normalize(torch.randn(n, 384, generator=g), dim=-1)
        sizes = torch.randint(1, 4, (n,), generator=g)
        out = {
            "emb": emb,
            "ngrams": torch.randint(1, 64, (int(sizes.sum()),), generator=g),
            "offsets": torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)[:-1]]),
        }
        if feats:
            out["feats"] = torch.randn(n, 3, generator=g)
        return out

    mask = torch.ones(shoppers, length, dtype=torch.bool)
    mask[0, 1:] = False  # a short history, padded
    products = block(items, feats=True)
    products["rows"] = torch.arange(items) % 10  # catalogue rows of the synthetic model's 10 products
    return {
        "items": products,
        "attr_index": torch.randint(0, items, (shoppers,), generator=g),
        "reviews": {**block(reviews, feats=False), "lexicon": torch.rand(reviews, 4, generator=g)},
        "history": torch.randint(0, items, (shoppers, length), generator=g),
        "history_mask": mask,
        "history_stars": torch.randint(0, 6, (shoppers, length), generator=g),
        "candidates": torch.randint(0, items, (shoppers, candidates), generator=g),
        "profile": True,
    }


def synthetic_targets(batch: dict, seed: int = 0) -> dict:
    """Targets for every task of `synthetic_batch`, keyed by task name."""
    import torch

    g = torch.Generator().manual_seed(seed + 1)
    shoppers, candidates = batch["candidates"].shape
    purchase = torch.zeros(shoppers, candidates)
    purchase[:, 0] = 1.0
    interest = torch.rand(shoppers, TAGS + CATEGORIES, generator=g)
    rows = len(batch["attr_index"])
    category = torch.arange(rows) % CATEGORIES
    category[-1] = -1  # an unknown category is skipped by the loss
    return {
        "purchase": {"labels": purchase},
        "attributes": {
            "tags": (torch.rand(rows, TAGS, generator=g) > 0.5).float(),
            "tag_mask": torch.ones(rows, TAGS),
            "category": category,
        },
        "sentiment": {"labels": torch.randint(0, 3, (len(batch["reviews"]["emb"]),), generator=g)},
        "profile": {"interest": interest / interest.sum(1, keepdim=True)},
    }


def task_losses(model, batch: dict, targets: dict) -> dict:
    from guide.model.tasks import task_spec

    out = model(batch)
    return {task: task_spec(task).loss(logits, targets[task]) for task, logits in out.items()}
