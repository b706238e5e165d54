"""GuideModel: one shared input encoder and trunk, four heads, one forward pass.

Batch layout of the shipped tasks (every key optional; a task runs when its inputs are present, as the `route`
of its spec in `model/tasks.py` says):
    items:      {emb (U, 384), ngrams (sum of bag sizes,), offsets (U,), feats (U, F), rows (U,)}  products
                (rows: their catalogue rows, for the purchase head's per-product vectors)
    attr_index: (B,)    rows of `items` to tag                              -> attributes (B, T + C)
    reviews:    {emb (R, 384), ngrams, offsets, lexicon (R, 4)}             -> sentiment  (R, 3)
                (lexicon: VADER scores, read when ModelConfig.lexicon_features > 0)
    history:    (B, L)  rows of `items`, with history_mask (B, L) bool and history_stars (B, L) long
    candidates: (B, C)  rows of `items` to score for each shopper           -> purchase   (B, C)
                (C,)    one shared candidate set                            -> purchase   (B, C)
                        with all_positions=True: every real history position -> purchase  (P, C)
    catalog:    True    serving: every product of a precomputed `item_repr` -> purchase   (B, N)
                (needs `catalog_matrix(item_repr)` merged into item_repr; one matrix product)
    profile:    True    with a history                                      -> profile    (B, K)
Products are encoded once per batch however many tasks read them.
"""

from __future__ import annotations

import torch
from torch import nn

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT, ModelConfig
from guide.model.tasks import task_spec
from guide.model.trunk import InputEncoder, build_trunk, soft_sharing_penalty

CONTENT = "content"  # key of the raw-embedding view in encode_items' output (not a task)
ITEM_VECTORS = "item_vectors"  # key of the purchase head's product vectors (D + 1: vector, bias) in encode_items
WIDE = "wide"  # key of the wide (linear n-gram) logits in encode_items / encode_reviews output
ITEM_MATRIX = "item_matrix"  # serving: the product vectors transposed, (D, N) contiguous (`catalog_matrix`)
ITEM_BIAS = "item_bias"  # serving: the products' biases (N,)


class Encoded:
    """What the task routes read of one batch: its products as encoded before any route runs (`items`) and its
    reviews, encoded the first time a route reads them (`reviews`), so no text is encoded twice."""

    def __init__(self, model: GuideModel, batch: dict, items: dict[str, torch.Tensor] | None):
        self.model, self.batch, self.items = model, batch, items
        self._reviews: dict[str, torch.Tensor] | None = None

    @property
    def reviews(self) -> dict[str, torch.Tensor]:
        if self._reviews is None:
            self._reviews = self.model.encode_reviews(self.batch["reviews"])
        return self._reviews


class GuideModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.num_tags < 1 or config.num_categories < 1 or config.num_interests < 1:
            raise ValueError("ModelConfig needs num_tags, num_categories and num_interests from the data vocabularies")
        self.config = config
        self.encoder = InputEncoder(config)
        self.trunk = build_trunk(config)
        self.heads = nn.ModuleDict({task: task_spec(task).head(config) for task in config.tasks})
        # Wide parts: per-task linear n-gram logits added to the deep heads' logits (sparse lexical
        # evidence such as "returned it" or "paraben" straight to the answer, like TF-IDF + LR).
        wide = {task: task_spec(task).wide for task in config.tasks if config.wide and task_spec(task).wide}
        self.wide = nn.ModuleDict(
            {task: nn.EmbeddingBag(config.ngram_buckets, size(config), mode="sum") for task, size in wide.items()}
        )
        for table in self.wide.values():
            nn.init.zeros_(table.weight)

    # --- encoding ----------------------------------------------------------------------------------
    def encode_items(self, items: dict) -> dict[str, torch.Tensor]:
        """{task: (U, H)} from the trunk, plus CONTENT: the unit MiniLM vectors (U, 384) that the
        purchase head compares directly (content similarity is a strong signal on its own)."""
        x = self.encoder(items["emb"], items["ngrams"], items["offsets"], items.get("feats"), kind=0)
        out = self.trunk(x)
        out[CONTENT] = torch.nn.functional.normalize(items["emb"], dim=-1)
        if PURCHASE in self.heads:
            out[ITEM_VECTORS] = self.heads[PURCHASE].item_vectors(out[PURCHASE], items.get("rows"))  # (U, D + 1)
        if ATTRIBUTES in self.wide:
            out[WIDE] = self.encoder.wide(self.wide[ATTRIBUTES], items["ngrams"], items["offsets"])  # (U, T + C)
        return out

    def encode_reviews(self, reviews: dict) -> dict[str, torch.Tensor]:
        x = self.encoder(reviews["emb"], reviews["ngrams"], reviews["offsets"], None, kind=1)
        out = self.trunk(x)  # {task: (R, H)}
        if SENTIMENT in self.wide:
            out[WIDE] = self.encoder.wide(self.wide[SENTIMENT], reviews["ngrams"], reviews["offsets"])  # (R, 3)
        return out

    # --- forward -----------------------------------------------------------------------------------
    def forward(self, batch: dict, item_repr: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Every task whose inputs are in `batch` (its spec's `route` says which); `item_repr` reuses precomputed
        product encodings."""
        if item_repr is None and "items" in batch:
            item_repr = self.encode_items(batch["items"])
        encoded = Encoded(self, batch, item_repr)
        out = {}
        for task in self.heads:
            logits = task_spec(task).route(self, batch, encoded)
            if logits is not None:
                out[task] = logits
        return out

    def purchase_logits(self, item_repr: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        """Training (`all_positions`): every real history position (row-major) against one shared candidate
        set -> (P, C).
        Otherwise the shopper after their latest item against shared candidates (C,) -> (B, C), or against
        their own candidates (B, C) -> (B, C)."""
        head, mask, candidates = self.heads[PURCHASE], batch["history_mask"], batch["candidates"]
        vectors = item_repr[ITEM_VECTORS]  # (U, D + 1)
        history = vectors[batch["history"]]  # (B, L, D + 1)
        if batch.get("all_positions"):  # only real positions: most of a padded batch is padding
            return head.score(head.sequence(history, mask)[mask], vectors[candidates])  # (P, C)
        return head.score(head.users(history, mask), vectors[candidates])  # (B, C)

    def sentiment_logits(self, review_repr: dict[str, torch.Tensor], lexicon: torch.Tensor | None) -> torch.Tensor:
        """(R, 3) of encoded reviews (`encode_reviews`), their wide part added when the model has one."""
        return self.heads[SENTIMENT](review_repr[SENTIMENT], lexicon) + review_repr.get(WIDE, 0.0)

    def profile_logits(self, item_repr: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        """(B, K): each shopper's interests from their history's profile representations."""
        history = item_repr[PROFILE][batch["history"]]  # (B, L, H)
        return self.heads[PROFILE](history, batch["history_stars"], batch["history_mask"])

    def catalog_matrix(self, item_repr: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Serving, once per loaded catalogue: the purchase head's product vectors as one contiguous (D, N)
        matrix and an (N,) bias, so scoring every product for B shoppers is one `addmm` that reads the
        matrix once (instead of gathering and transposing (N, D + 1) vectors on every request)."""
        vectors = item_repr[ITEM_VECTORS]  # (N, D + 1)
        return {ITEM_MATRIX: vectors[:, :-1].T.contiguous(), ITEM_BIAS: vectors[:, -1].contiguous()}

    def catalog_logits(self, item_repr: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        """(B, N): each shopper after their latest item against every product (`catalog_matrix` precomputed);
        the same numbers as `purchase_logits` with candidates = every row."""
        head = self.heads[PURCHASE]
        users = head.users(item_repr[ITEM_VECTORS][batch["history"]], batch["history_mask"])  # (B, D)
        return torch.addmm(item_repr[ITEM_BIAS], users, item_repr[ITEM_MATRIX])  # (B, N)

    def attribute_logits(self, item_repr: dict[str, torch.Tensor], index: torch.Tensor | None = None) -> torch.Tensor:
        """(N, T + C) tag and category logits of encoded products (all, or those at `index`)."""
        deep = item_repr[ATTRIBUTES] if index is None else item_repr[ATTRIBUTES][index]
        logits = self.heads[ATTRIBUTES](deep)
        if WIDE in item_repr:
            logits = logits + (item_repr[WIDE] if index is None else item_repr[WIDE][index])
        return logits

    def regularisation(self) -> torch.Tensor:
        """The soft-sharing term (0 unless configured)."""
        if self.config.soft_sharing <= 0:
            return next(self.parameters()).new_zeros(())
        return self.config.soft_sharing * soft_sharing_penalty(self.trunk)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters every task's loss reaches (what GradNorm and PCGrad look at)."""
        return [p for p in list(self.encoder.parameters()) + list(self.trunk.parameters()) if p.requires_grad]
