"""Build pipeline: corpus -> passages -> vectors -> a new index version."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from assistant.cache import CachedEmbedder
from assistant.config import Settings
from assistant.documents import Skipped, load_corpus
from assistant.embedding import Embedder
from assistant.language import detect_language
from assistant.passages import chunk_document
from assistant.store import save_version
from assistant.types import Document, Passage


@dataclass
class BuildReport:
    """What a build did, for the CLI and the API."""

    version: str
    documents: int
    passages: int
    sentences: int
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0


def chunking_settings(settings: Settings) -> dict[str, int]:
    return {
        "min_words": settings.passage_min_words,
        "max_words": settings.passage_max_words,
        "overlap_sentences": settings.passage_overlap_sentences,
    }


def corpus_fingerprint(documents: list[Document], chunking: dict[str, int]) -> str:
    h = hashlib.sha256(json.dumps(chunking, sort_keys=True).encode())
    for d in sorted(documents, key=lambda d: d.source):
        h.update(json.dumps([d.source, d.id, d.title, d.language, d.sha256]).encode())
    return h.hexdigest()


def make_passages(documents: list[Document], settings: Settings) -> list[Passage]:
    """Chunk every document; each passage gets its own detected language (the document's when unsure)."""
    passages: list[Passage] = []
    for doc in documents:
        for p in chunk_document(
            doc.id,
            doc.text,
            doc.language,
            settings.passage_min_words,
            settings.passage_max_words,
            settings.passage_overlap_sentences,
        ):
            lang = detect_language(p.text, fallback=doc.language)
            passages.append(p if lang == p.language else Passage(**{**p.__dict__, "language": lang}))
    return passages


def build_index(
    settings: Settings, embedder: Embedder, corpus: Path, index: Path, progress: bool = False
) -> BuildReport:
    """Embed the corpus and write a new index version, switched to atomically."""
    began = time.perf_counter()
    embedder = CachedEmbedder(embedder, index / "cache" / "embeddings.sqlite")
    loaded = load_corpus(corpus)
    passages = make_passages(loaded.documents, settings)
    texts = {d.id: d.text for d in loaded.documents}
    vectors = embedder.encode_passages([p.text for p in passages], settings.batch_size, progress)
    sentences = [texts[p.doc_id][s.start : s.end] for p in passages for s in p.sentences]
    sentence_vectors = embedder.encode_passages(sentences, settings.batch_size, progress)
    chunking = chunking_settings(settings)
    manifest = {
        "model": {"identity": embedder.identity, "dimension": embedder.dimension, "normalized": True},
        "metric": "inner_product",
        "chunking": chunking,
        "corpus_fingerprint": corpus_fingerprint(loaded.documents, chunking),
        "skipped": [{"source": s.source, "reason": s.reason} for s in loaded.skipped],
    }
    version = save_version(index, passages, vectors, sentence_vectors, loaded.documents, manifest)
    return BuildReport(
        version=version,
        documents=len(loaded.documents),
        passages=len(passages),
        sentences=len(sentences),
        skipped=loaded.skipped,
        seconds=time.perf_counter() - began,
    )
