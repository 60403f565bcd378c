"""Question -> ranked passages."""

from __future__ import annotations

import numpy as np

from assistant.store import StoredIndex
from assistant.types import Hit


def dense_search(store: StoredIndex, query_vector: np.ndarray, k: int) -> list[Hit]:
    """The `k` passages most similar to the question, best first (cosine similarity)."""
    return [Hit(store.passages[row], score, row) for row, score in store.search(query_vector, k)]
