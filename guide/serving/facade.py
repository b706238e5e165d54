"""`Guide`: the trained model + catalogue behind one small, thread-safe API of plain results.

Loading takes the shipped checkpoint (`assets/model`), the catalogue from the data directory and
the cached catalogue embeddings (`assets/embeddings`), then encodes every product through the trunk
once and keeps what no request changes (on disk too, `guide/serving/prepared.py`): the product
representations the heads read, every product's attributes and the transition graph; the purchase head's
product matrix is transposed once. Afterwards a shopper's purchase scores over the whole catalogue, their
profile and a review's sentiment are one forward pass of the shared model, over the small shopper side
only; passes asked for by several threads at once are served together (`guide/serving/batching.py`) by one
batched pass (`guide/serving/model_pass.py`), whose outputs `guide/serving/result_builder.py` turns into results.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from guide.config import ATTRIBUTES, DEFAULT_CHECKPOINT, PROFILE, PURCHASE, SENTIMENT
from guide.data.catalog import Catalog
from guide.data.purchase_signals import TransitionGraph
from guide.data.task_data import lexical_texts, train_sequences
from guide.data.text import MAX_CHARS, Encoder, hash_ngrams, lexicon_features
from guide.model.checkpoint import Checkpoint
from guide.model.device import resolve_device
from guide.model.fusion import Fusion
from guide.model.inputs import text_block
from guide.model.network import ITEM_VECTORS
from guide.model.outputs import encode_catalog
from guide.model.tasks import task_spec
from guide.serving import model_card, prepared, servable, served_tasks
from guide.serving.batching import Ask, MicroBatcher
from guide.serving.candidates import CandidateStage
from guide.serving.model_pass import ModelPass
from guide.serving.pass_threads import SERVING_THREADS_ENV, PassThreads, serving_threads  # noqa: F401 (read here)
from guide.serving.result_builder import ResultBuilder, RowAttributes, with_categories
from guide.serving.results import Attributes, Prediction, Profile, Sentiment
from guide.serving.search import SearchIndex

logger = logging.getLogger(__name__)

MAX_INPUT_CHARS = 1_000_000  # a 1 MB string is refused; anything shorter is read up to MAX_CHARS
SERVED = (PROFILE, ITEM_VECTORS)  # the product representations a request reads (see `_prepare`)


def use_serving_threads() -> int:
    """Set torch's intra-op threads for serving: `GUIDE_TORCH_THREADS`, else 1, and return the number.

    Passes run one at a time under the lock, on small tensors; a second OpenMP thread buys little there,
    and where the cores are busy (browsers, other sessions' Python, other jobs) every parallel op waits at
    its barrier for that thread to be scheduled: on the 2-core machine under load a lone `predict` took
    780 ms at 2 threads and 69 ms at 1 (benchmarks/bench_load.py and README, "How fast it is"). The passes
    themselves run on that many threads whatever torch is set to (`guide/serving/pass_threads.py`)."""
    threads = serving_threads()
    torch.set_num_threads(threads)
    return threads


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not texts:
        raise ValueError(f"texts: expected a non-empty list of strings; got {type(texts).__name__} {texts!r:.60}")
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"texts: expected non-empty strings; got {text!r:.60}; fix: drop empty texts")
        if len(text) >= MAX_INPUT_CHARS:
            raise ValueError(
                f"text of {len(text):,} characters: expected under {MAX_INPUT_CHARS:,}; "
                f"fix: send the review itself (texts over {MAX_CHARS:,} characters are truncated)"
            )
    return list(texts)


class _Timings(threading.local):
    """The last pass's time and its wait for the lock, per thread: Streamlit runs each browser session's
    script in its own thread, so a session reads its own pass, not another session's that ran since."""

    inference_ms: float | None = None
    wait_ms: float | None = None


class Guide:
    """The four predictions over the catalogue. Build with `Guide.load()`."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        catalog: Catalog,
        encoder: Encoder,
        device: torch.device,
        *,
        allow_uncalibrated: bool = False,
    ):
        self.checkpoint, self.device, self.encoder = checkpoint, device, encoder
        folder = checkpoint.meta.get("folder", "")
        # [] when calibrated; a checkpoint missing any is refused unless allowed, then flagged by this list
        self.uncalibrated = servable.check_calibration(
            checkpoint.model.config.tasks, checkpoint.calibration, allow_uncalibrated, folder
        )
        self.model = checkpoint.model.to(device).eval()
        self._served = served_tasks.served(self.model.config.tasks)  # how each task is served; refuses unknown ones
        self._catalog = catalog
        self.result_builder = results = ResultBuilder(checkpoint)  # outputs -> plain results
        self.tags, self.categories, self.interests = results.tags, results.categories, results.interests
        self.tag_thresholds, self.sentiment_bias = results.tag_thresholds, results.sentiment_bias
        calibration = checkpoint.calibration
        self._lock = threading.Lock()
        self._timings, self._last_any = _Timings(), {"inference_ms": 0.0, "wait_ms": 0.0}  # this thread's; any's
        self.purchase_temperature = float(calibration.get("purchase_temperature", 1.0))
        self._item_emb = encoder.embed(catalog.items["text"].tolist(), shard_name="items")
        self._item_feats = np.stack(catalog.items["features"]).astype(np.float32)
        self._pass_threads = PassThreads()
        digest = prepared.key(self.model, self.model.config.to_dict(), catalog.fingerprint(), device, self._prepare)
        arrays = prepared.load_or_build(digest, lambda: self._prepare(catalog))
        # Serving reads the profile head's product representations and the purchase head's product vectors;
        # the purchase head's matrix is transposed once so every product is scored by one matmul.
        self._item_repr = {name: torch.from_numpy(arrays[name]).to(device) for name in SERVED if name in arrays}
        if ITEM_VECTORS in self._item_repr:
            self._item_repr.update(self.model.catalog_matrix(self._item_repr))
        self._item_tags, self._item_cats = arrays["item_tags"], arrays["item_cats"]
        self._products = {  # every product's answers of each product-level task (`served_tasks.PRODUCT`)
            task: tuple(arrays[name] for name in how.arrays)
            for task, how in self._served.items()
            if how.unit == served_tasks.PRODUCT
        }
        self._transitions = TransitionGraph(prepared.graph_matrix(arrays))
        self._all_rows_np = np.arange(len(catalog.items))
        self._ids = catalog.items["item_id"].tolist()
        self._batcher = MicroBatcher(self._lock, self._pass)
        self._unit_emb = self._item_emb / np.linalg.norm(self._item_emb, axis=1, keepdims=True).clip(1e-9)
        self.fusion = Fusion(**calibration.get("purchase_fusion", {}))
        self._items = with_categories(catalog.items, [self.categories[i] for i in self._item_cats.argmax(1)])
        self.search_index = SearchIndex(self._items, self._item_emb, encoder)
        # past GUIDE_RETRIEVAL_THRESHOLD products, For you ranks the ANN index's candidates (serving/candidates.py)
        self.candidate_stage = CandidateStage(
            arrays[ITEM_VECTORS] if ITEM_VECTORS in arrays else np.zeros((0, 1), np.float32),
            self._unit_emb,
            self._transitions,
            self.fusion,
            self.purchase_temperature,
        )
        self.model_pass = ModelPass(  # the batched forward pass the micro-batcher runs
            self.model,
            device,
            encoder,
            self._served,
            self._item_repr,
            fusion=self.fusion,
            temperature=self.purchase_temperature,
            unit_emb=self._unit_emb,
            transitions=self._transitions,
            candidate_stage=self.candidate_stage,
        )

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        device: str | None = None,
        data_dir: Path | str | None = None,
        *,
        allow_uncalibrated: bool = False,
    ) -> Guide:
        """The checkpoint in `path` (default: the shipped one) over the catalogue it was trained on. Refused
        (ValueError): other data than the checkpoint's, or a checkpoint without calibration unless
        `allow_uncalibrated` (then `uncalibrated` lists what it lacks)."""
        started = time.perf_counter()
        resolved = resolve_device(device)
        folder = path or DEFAULT_CHECKPOINT
        checkpoint = Checkpoint.load(folder, resolved)
        catalog = Catalog.load(data_dir, checkpoint.config.data)
        servable.check_data(checkpoint.fingerprint, catalog.fingerprint(), folder)
        encoder = checkpoint.sentence_encoder(device=str(resolved) if resolved.type == "cuda" else None)
        guide = cls(checkpoint, catalog, encoder, resolved, allow_uncalibrated=allow_uncalibrated)
        logger.info("Guide loaded in %.1f s on %s", time.perf_counter() - started, resolved)
        return guide

    # --- data -----------------------------------------------------------------------------------
    @property
    def catalog(self) -> pd.DataFrame:
        """The catalogue's products with the model's category and the one shown (a copy: the `Catalog` this
        Guide was built from is never changed)."""
        return self._items

    def row(self, item_id: str) -> int:
        """The catalogue row of `item_id`; ValueError for an id the catalogue does not hold."""
        return int(self._catalog.rows([item_id])[0])

    @property
    def batcher(self) -> MicroBatcher:
        """The micro-batcher of forward passes: `passes` / `served` counters; `max_batch = 1` turns batching off."""
        return self._batcher

    @property
    def interactions(self):
        return self._catalog.interactions

    @property
    def reviews(self):
        return self._catalog.reviews

    @torch.inference_mode()
    def _prepare(self, catalog: Catalog) -> dict[str, np.ndarray]:
        """What no request changes (`guide/serving/prepared.py`): every product through the trunk once, the
        representations serving reads, every product's tag and category probabilities, the transition graph."""
        buckets = self.model.config.ngram_buckets
        ngrams = [np.array(hash_ngrams(t, buckets), np.int64) for t in lexical_texts(catalog)]
        reps = encode_catalog(self.model, self._item_emb, ngrams, self._item_feats, self.device)
        arrays = {name: reps[name].cpu().numpy() for name in SERVED if name in reps}
        arrays.update(served_tasks.products(self.model, reps, self._served))  # item_tags, item_cats, ...
        graph = TransitionGraph.build(train_sequences(catalog), len(catalog.items))
        return arrays | prepared.graph_arrays(graph.matrix)

    # --- blocks ---------------------------------------------------------------------------------
    def _history(self, history, ratings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A shopper's catalogue rows and stars (0 = no rating), the latest `max_history` of them (what the
        model reads), and every row of the history (what is masked: as in evaluation, nothing the shopper
        has is their next purchase, however long ago they got it)."""
        if isinstance(history, str) or not isinstance(history, (list, tuple)):
            raise ValueError(f"history: expected a list of item ids (may be empty); got {type(history).__name__}")
        if ratings is not None and len(ratings) != len(history):
            raise ValueError(f"ratings: expected one per history item ({len(history)}); got {len(ratings)}")
        limit = self.checkpoint.config.data.max_history
        owned = self._catalog.rows(list(history))
        stars = np.array([0 if r is None else r for r in (ratings or [0] * len(history))], np.float32)[-limit:]
        return owned[-limit:], stars, owned

    # --- public API -----------------------------------------------------------------------------
    @torch.inference_mode()
    def sentiment(self, texts: list[str]) -> list[Sentiment]:
        texts = _check_texts(texts)
        out = self._batcher.run(Ask(texts=texts, encoded=self.model_pass.encode_reviews(texts)))
        return self.result_builder.sentiments(out[SENTIMENT], texts)

    @torch.inference_mode()
    def attributes(self, texts: list[str]) -> list[Attributes]:
        """Tags and category of products described by free text (not in the catalogue)."""
        texts = _check_texts(texts)
        emb = self.encoder.embed([t[:MAX_CHARS] for t in texts], persist=False)
        bags = [np.array(hash_ngrams(t, self.model.config.ngram_buckets), np.int64) for t in texts]
        feats = np.zeros((len(texts), self._item_feats.shape[1]), np.float32)
        with self._lock, self._pass_threads():
            reps = self.model.encode_items(text_block(emb, bags, np.arange(len(texts)), self.device, feats))
            logits = self.model.attribute_logits(reps)
        tags, cats = task_spec(ATTRIBUTES).read(logits, self.model.config)
        return [self.result_builder.attributes(t, c) for t, c in zip(tags.cpu().numpy(), cats.cpu().numpy())]

    def attributes_by_row(self) -> RowAttributes:
        """Every catalogue row's `Attributes`, built when a row is read (building all 20,951 up front
        took 3 s of the app's start)."""
        return RowAttributes(self.result_builder, self._item_tags, self._item_cats)

    def predicted_tags(self, limit: int = 5) -> list[list[str]]:
        """Per catalogue row, the tags over their thresholds, most confident first, at most `limit`."""
        return self.result_builder.predicted_tags(self._item_tags, limit)

    def item_attributes(self, item_ids: list[str]) -> list[Attributes]:
        rows = self._catalog.rows(list(item_ids))
        return [self.result_builder.attributes(self._item_tags[r], self._item_cats[r]) for r in rows]

    def purchase(self, history: list[str], candidates: list[str], ratings=None) -> list[float]:
        if isinstance(candidates, str) or not candidates:
            raise ValueError("candidates: expected a non-empty list of item ids")
        rows = self._catalog.rows(list(candidates))
        rows_read, stars, owned = self._history(history, ratings)
        out, _ = self._forward(Ask(rows_read, stars, rows=rows, owned=owned))
        return [float(p) for p in out[PURCHASE]]

    def score_catalog(self, history: list[str], ratings=None) -> np.ndarray:
        """P(next purchase = product) for every catalogue row, in catalogue order (`history`: item ids,
        oldest first). Products in the history get 0: the benchmark the model learns from has no repeat
        purchases, so it cannot say how likely one is."""
        rows, stars, owned = self._history(history, ratings)
        return self._forward(Ask(rows, stars, rows=self._all_rows_np, owned=owned))[0][PURCHASE]

    def profile(self, history: list[str], ratings=None) -> Profile:
        return self.predict(history, items=[], ratings=ratings).profile

    def predict(
        self,
        history: list[str],
        items: list[str] | None = None,
        review: str | None = None,
        ratings=None,
        review_item: str | None = None,
    ) -> Prediction:
        """Purchase scores for `items` (None: the whole catalogue), attributes of an explicit `items`
        list and of `review_item`, the shopper's profile and the review's sentiment —
        all from one forward pass of the shared model."""
        history_rows, stars, owned = self._history(history, ratings)
        rows = self._all_rows_np if items is None else self._catalog.rows(list(items))
        review_texts = _check_texts([review]) if review is not None else []
        attr_ids = list(
            dict.fromkeys((list(items) if items is not None else []) + ([review_item] if review_item else []))
        )
        attr_rows = self._catalog.rows(attr_ids) if attr_ids else np.zeros(0, np.int64)
        encoded = self.model_pass.encode_reviews(review_texts)
        out, elapsed = self._forward(Ask(history_rows, stars, review_texts, rows, owned=owned, encoded=encoded))
        # A catalogue product's answers (attributes) do not depend on the request: read from the pass made at load.
        answers = served_tasks.answers(self, self._served, out, rows, attr_rows, review_texts)
        shipped = (PURCHASE, PROFILE, ATTRIBUTES, SENTIMENT)  # Prediction's own fields, in its order
        more = {task: answer for task, answer in answers.items() if task not in shipped}
        return Prediction(*(answers[task] for task in shipped), elapsed, str(self.device), more=more)

    def product_outputs(self, task: str) -> tuple[np.ndarray, ...]:
        """Every catalogue product's read outputs of product-level `task`, computed at load (attributes: the tag
        and the category probabilities)."""
        if task not in self._products:
            raise ValueError(f"product outputs: expected a product-level task of {list(self._products)}; got {task!r}")
        return self._products[task]

    def _forward(self, ask: Ask) -> tuple[dict, float]:
        """One shopper's share of a forward pass (batched with whatever other threads asked meanwhile, see
        `MicroBatcher`). `last_inference_ms` is the pass itself, `last_wait_ms` the wait before it (other
        sessions' passes)."""
        out = self._batcher.run(ask)
        self.last_wait_ms, self.last_inference_ms = ask.wait_ms, ask.inference_ms
        return out, ask.inference_ms

    def _pass(self, asks: list[Ask]) -> None:
        """`ModelPass.run` on the serving threads (`guide/serving/pass_threads.py`), whatever torch is set to."""
        with self._pass_threads():
            self.model_pass.run(asks)

    @property
    def last_inference_ms(self) -> float:
        """The last pass this thread ran, else the last pass of any thread (0 before the first)."""
        mine = self._timings.inference_ms
        return self._last_any["inference_ms"] if mine is None else mine

    @last_inference_ms.setter
    def last_inference_ms(self, value: float) -> None:
        self._timings.inference_ms = self._last_any["inference_ms"] = float(value)

    @property
    def last_wait_ms(self) -> float:
        """How long this thread's last pass waited for the lock (other sessions' passes), else any thread's."""
        mine = self._timings.wait_ms
        return self._last_any["wait_ms"] if mine is None else mine

    @last_wait_ms.setter
    def last_wait_ms(self, value: float) -> None:
        self._timings.wait_ms = self._last_any["wait_ms"] = float(value)

    # --- raw logits of texts the serving cache must not keep (occlusion variants, serving/occlusion.py) ---------
    def _uncached_block(self, texts: list[str], lexical: list[str], feats: np.ndarray | None = None) -> dict:
        emb = self.encoder.encode(texts)  # no cache: such texts are seen once
        bags = [np.array(hash_ngrams(t, self.model.config.ngram_buckets), np.int64) for t in lexical]
        lexicon = lexicon_features(texts) if feats is None else None  # reviews read the lexicon; products do not
        return text_block(emb, bags, np.arange(len(texts)), self.device, feats, lexicon=lexicon)

    @torch.inference_mode()
    def review_logits(self, texts: list[str]) -> np.ndarray:
        """Sentiment logits (negative, neutral, positive) per text, one pass of the shared model: (N, 3)."""
        block = self._uncached_block(texts, texts)
        with self._lock, self._pass_threads():  # one forward pass at a time, as every request
            return self.model({"reviews": block})[SENTIMENT].double().cpu().numpy()

    @torch.inference_mode()
    def tag_logits(self, item_id: str, texts: list[str]) -> np.ndarray:
        """Tag logits per text, each read as catalogue product `item_id`'s text (its ingredients and price
        features stay as they are, as `tasks.lexical_texts` builds them): (N, tags)."""
        row = self.row(item_id)
        ingredients = self._items["ingredients"].iat[row] or ""
        feats = np.repeat(self._item_feats[row : row + 1], len(texts), axis=0)
        block = self._uncached_block(texts, [f"{t} {ingredients}" for t in texts], feats)
        with self._lock, self._pass_threads():
            logits = self.model.attribute_logits(self.model.encode_items(block))
        return logits[:, : len(self.tags)].double().cpu().numpy()

    def search(self, query: str, k: int = 200) -> list[tuple[str, float]]:
        return self.search_index.search(query, k)

    def similar(self, item_id: str, k: int = 6) -> list[tuple[str, float]]:
        return self.search_index.similar(self._catalog.rows([item_id])[0], k)

    def model_card(self) -> dict:
        """The report, configuration, training record and task affinity of the served checkpoint, the device and
        the last pass's time (`guide/serving/model_card.py`)."""
        return model_card.describe(self)
