"""What the purchase head's score adds to its own: content similarity and the purchase-transition graph.

The head's dot product (`PurchaseHead`) learns from the sequences; two more signals of the same shopper
are cheap and strong on this benchmark (sequences are short, 8.9 products on average, so an id model alone
sees each product a handful of times):

- content: cosine between a product's MiniLM text vector (the shared input) and the shopper's recent
  products (`guide.data.purchase_signals.content_scores`);
- transitions: the purchase-transition graph of the TRAIN sequences (`TransitionGraph`).

The final score is `neural * head + content * cosine + transitions * log1p(graph)`, with the three
weights chosen on validation shoppers (`training/validation.fit_fusion`): the graph counts the training
targets themselves, so a weight learned by gradient on training data would over-trust it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Fusion:
    neural: float = 1.0
    content: float = 0.0
    transitions: float = 0.0

    def combine(self, neural: np.ndarray, content: np.ndarray | None, transitions: np.ndarray | None) -> np.ndarray:
        out = self.neural * neural
        if self.content and content is not None:
            out = out + self.content * content
        if self.transitions and transitions is not None:
            out = out + self.transitions * transitions
        return out

    def to_dict(self) -> dict:
        return asdict(self)
