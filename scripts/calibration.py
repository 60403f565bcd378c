"""What the calibration tools share (`scripts/fit_abstention.py`, `scripts/reader_bound.py`):
where the benchmark lives, the embedder with `assistant eval`'s cache, and the calibration draw
of the train articles."""

from __future__ import annotations

import random
from pathlib import Path

from assistant.config import Settings
from assistant.evaluation.data import (
    SLICES,
    Benchmark,
    Question,
    abstention_sample,
    near_topic_paragraphs,
    near_topic_sample,
)
from assistant.models.embedding_cache import CachedEmbedder
from assistant.serving.assistant import Assistant

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"


def eval_embedder(settings: Settings) -> CachedEmbedder:
    """The embedding model with `assistant eval`'s cache (the benchmark's vectors, queries too)."""
    return CachedEmbedder(
        Assistant(settings).embedder,
        settings.model_cache / f"eval-embeddings-{settings.backend}.sqlite",
        cache_queries=True,
    )


def train_draw(
    bench: Benchmark, rng: random.Random, per_slice: int, slices: tuple[str, ...] = tuple(SLICES)
) -> tuple[frozenset[str], list[tuple[Question, bool]], list[Question]]:
    """The calibration draw of the train articles (test articles are never seen): the paragraphs
    left out of the index, `per_slice` questions per slice (answerable or held-out, with whether
    they are answerable), then the near-topic questions (those of the paragraphs left out)."""
    removed = near_topic_paragraphs(bench, rng, train=True)
    sample = abstention_sample(bench, rng, per_slice, slices, train=True, removed=removed)
    near = [q for qs in near_topic_sample(bench, rng, removed, slices).values() for q in qs]
    return removed, sample, near
