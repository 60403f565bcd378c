"""Build pipeline: corpus -> passages -> vectors -> a new index version."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import IndexWriteError
from assistant.ingest.boilerplate import Kept, find_boilerplate, kept_below, kept_text
from assistant.ingest.documents import Corpus, Skipped, load_corpus
from assistant.ingest.passages import STRUCTURE_VERSION, chunk_document
from assistant.models.embedding import Embedder
from assistant.models.embedding_cache import CachedEmbedder
from assistant.stores.base import NewVersion, Store
from assistant.stores.vectors import choose_vector_index
from assistant.text.keywords import LexicalIndex
from assistant.text.language import detect_language
from assistant.types import Document, Passage

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """What a build will change, document by document (ids), against the current version."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    settings_changed: bool = False
    known_languages: dict[tuple[str, int, int], str] = field(default_factory=dict, repr=False)
    previous_passages: int = 0

    @property
    def changes(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.settings_changed)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.updated)} updated", f"{len(self.removed)} removed"]
        parts.append(f"{len(self.unchanged)} unchanged")
        text = "documents: " + ", ".join(parts)
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        if self.settings_changed:
            text += " (model or chunking settings changed: everything is re-chunked)"
        return text


@dataclass
class BuildReport:
    """What a build did, for the CLI and the API."""

    version: str
    documents: int
    passages: int
    sentences: int
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    plan: Plan = field(default_factory=Plan)
    embedded: int = 0  # passages and sentences embedded by this build
    reused: int = 0  # passages and sentences whose vectors were reused (unchanged text)
    changed: bool = True  # False when the index was already up to date and nothing was written
    passages_embedded: int = 0  # passages of new or changed text
    passages_removed: int = 0  # passages of the previous version that are gone
    kept: dict[str, Kept] = field(default_factory=dict)  # per document source: visible and indexed words

    def kept_summary(self, share: float) -> str:
        visible = sum(k.visible for k in self.kept.values())
        kept = sum(k.kept for k in self.kept.values())
        text = f"text kept: {kept / visible:.0%} of the visible words" if visible else "text kept: no words"
        low = kept_below(self.kept, share)
        if low:
            named = ", ".join(f"{source} ({k.share:.0%})" for source, k in low[:10])
            more = f" and {len(low) - 10} more" if len(low) > 10 else ""
            text += f"; {len(low)} documents kept less than {share:.0%}: {named}{more}"
        return text

    def passage_summary(self) -> str:
        kept = self.passages - self.passages_embedded
        return (
            f"passages: {self.passages} ({self.passages_embedded} new or changed, {kept} unchanged, "
            f"{self.passages_removed} removed)"
        )


def chunking_settings(settings: Settings) -> dict[str, int]:
    return {
        "min_words": settings.passage_min_words,
        "max_words": settings.passage_max_words,
        "overlap_sentences": settings.passage_overlap_sentences,
        "structure": STRUCTURE_VERSION,  # a new one re-chunks an index built before it
    }


def corpus_fingerprint(documents: list[Document], chunking: dict[str, int]) -> str:
    h = hashlib.sha256(json.dumps(chunking, sort_keys=True).encode())
    for d in sorted(documents, key=lambda d: d.source):
        h.update(json.dumps([d.source, d.id, d.title, d.language, d.sha256]).encode())
    return h.hexdigest()


def make_passages(
    documents: list[Document],
    settings: Settings,
    known: dict[tuple[str, int, int], str] | None = None,
    skip: dict[str, frozenset[int]] | None = None,
) -> list[Passage]:
    """Chunk every document, boilerplate (`skip`, else found here) left out; each passage gets its
    own detected language (the document's when unsure).
    `known` gives the language of passages already detected in the previous version, by
    (document digest, start, end), so that unchanged passages are not detected again."""
    known = known or {}
    digests = {d.id: d.sha256 for d in documents}
    skip = find_boilerplate(documents) if skip is None else skip
    passages: list[Passage] = []
    for doc in documents:
        for p in chunk_document(
            doc.id,
            doc.text,
            doc.language,
            settings.passage_min_words,
            settings.passage_max_words,
            settings.passage_overlap_sentences,
            doc.blocks,
            skip.get(doc.id, frozenset()),
        ):
            lang = known.get((digests[doc.id], p.start, p.end)) or detect_language(p.text, fallback=doc.language)
            passages.append(p if lang == p.language else Passage(**{**p.__dict__, "language": lang}))
    return passages


@dataclass
class Previous:
    """What the current version knows: document fingerprints, its manifest, detected languages."""

    fingerprints: dict[str, str] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    document_languages: dict[str, str] = field(default_factory=dict)  # text digest -> language
    passage_languages: dict[tuple[str, int, int], str] = field(default_factory=dict)


def _previous(store: Store) -> Previous:
    manifest, documents, passages = store.previous()
    previous = Previous(manifest=manifest)
    try:
        digests = {}
        for d in documents:
            previous.fingerprints[d["id"]] = _fingerprint(d["sha256"], d["source"], d["title"], d["language"])
            digests[d["id"]] = d["sha256"]
            previous.document_languages[d["sha256"]] = d["language"]
        for r in passages:
            previous.passage_languages[(digests[r["doc_id"]], r["start"], r["end"])] = r["language"]
    except (KeyError, TypeError):
        return Previous()  # an unreadable version is simply rebuilt
    return previous


def _fingerprint(sha256: str, source: str, title: str, language: str) -> str:
    return json.dumps([sha256, source, title, language])


def plan_build(
    settings: Settings, corpus: Path, store: Store, model_identity: str | None
) -> tuple[Plan, list[Document]]:
    """Compare the corpus with the current index version, without touching either."""
    previous = _previous(store)
    loaded = load_corpus(corpus, previous.document_languages)
    before, manifest = previous.fingerprints, previous.manifest
    plan = Plan(
        skipped=loaded.skipped,
        known_languages=previous.passage_languages,
        previous_passages=len(previous.passage_languages),
    )
    model = manifest.get("model")
    plan.settings_changed = bool(manifest) and (
        manifest.get("chunking") != chunking_settings(settings)
        or (model_identity is not None and isinstance(model, dict) and model.get("identity") != model_identity)
    )
    now = {d.id: _fingerprint(d.sha256, d.source, d.title, d.language) for d in loaded.documents}
    for doc_id, fp in now.items():
        if doc_id not in before:
            plan.added.append(doc_id)
        elif before[doc_id] != fp:
            plan.updated.append(doc_id)
        else:
            plan.unchanged.append(doc_id)
    plan.removed = sorted(set(before) - set(now))
    return plan, loaded.documents


def embedding_cache(index: Path) -> Path:
    """The index's embedding cache."""
    return index / "cache" / "embeddings.sqlite"


def build_index(
    settings: Settings,
    embedder: Embedder,
    corpus: Path,
    index: Path,
    store: Store,
    progress: bool = False,
    full: bool = False,
    on_phase: Callable[[str], None] | None = None,
) -> BuildReport:
    """Bring the index up to date with the corpus: a new version, switched to atomically.

    Only new or changed text is embedded: vectors of unchanged passages and sentences come
    from the index's embedding cache (keyed by content hash). `full` re-embeds everything.
    When nothing changed, no version is written.
    """
    began = time.perf_counter()
    before = store.current_version()
    try:
        report = _locked_build(settings, embedder, corpus, index, store, progress, full, on_phase)
    except (OSError, sqlite3.Error) as exc:
        served = store.current_version()
        if served is None:
            outcome = "no index was written"
        elif served == before:
            outcome = f"version {served} is unchanged and still served"
        else:  # the failure came after the switch (syncing the folder): the new version is whole
            outcome = f"the new version {served} is complete and served, but may not survive a power cut yet"
        raise IndexWriteError(f"the index in {store.location} could not be updated ({exc}); {outcome}") from exc
    report.seconds = time.perf_counter() - began
    return report


def _locked_build(
    settings: Settings,
    embedder: Embedder,
    corpus: Path,
    index: Path,
    store: Store,
    progress: bool,
    full: bool,
    on_phase: Callable[[str], None] | None,
) -> BuildReport:
    began = time.perf_counter()
    with store.lock():
        phase = on_phase or (lambda _: None)
        phase("reading the documents")
        plan, documents = plan_build(settings, corpus, store, embedder.identity)
        current = store.current_version()
        if not full and not plan.changes and current is not None and store.verify_current():
            return BuildReport(
                current, len(documents), 0, 0, plan.skipped, time.perf_counter() - began, plan, changed=False
            )
        cached = CachedEmbedder(embedder, embedding_cache(index), read=not full, track=True)
        try:
            if not full and current is not None:
                phase("reusing the vectors of the current version")
                cached.seed(store.previous_vectors())
            return _build(settings, cached, documents, plan, store, progress, phase)
        finally:
            cached.close()


def _build(
    settings: Settings,
    embedder: CachedEmbedder,
    documents: list[Document],
    plan: Plan,
    store: Store,
    progress: bool,
    phase: Callable[[str], None],
) -> BuildReport:
    loaded = Corpus(documents, plan.skipped)
    boilerplate = find_boilerplate(loaded.documents)
    passages = make_passages(loaded.documents, settings, plan.known_languages, boilerplate)
    kept = kept_text(loaded.documents, boilerplate)
    texts = {d.id: d.text for d in loaded.documents}
    phase(f"embedding {len(passages)} passages (new or changed text only)")
    vectors = embedder.encode_passages([p.text for p in passages], settings.batch_size, progress)
    passages_embedded = embedder.misses
    sentences = [texts[p.doc_id][s.start : s.end] for p in passages for s in p.sentences]
    phase(f"embedding {len(sentences)} sentences (new or changed text only)")
    sentence_vectors = embedder.encode_passages(sentences, settings.batch_size, progress)
    chunking = chunking_settings(settings)
    manifest = {
        "model": {"identity": embedder.identity, "dimension": embedder.dimension, "normalized": True},
        "metric": "inner_product",
        "chunking": chunking,
        "vector_index": choose_vector_index(
            len(passages),
            settings.ann_threshold,
            settings.hnsw_m,
            settings.hnsw_ef_construction,
            settings.hnsw_ef_search,
        ),
        "corpus_fingerprint": corpus_fingerprint(loaded.documents, chunking),
        "skipped": [{"source": s.source, "reason": s.reason} for s in loaded.skipped],
        "kept": {source: [k.visible, k.kept] for source, k in sorted(kept.items())},
    }
    phase("writing the new version")
    lexical = LexicalIndex.build([p.text for p in passages], [p.language for p in passages])
    version = store.save(NewVersion(passages, vectors, sentence_vectors, lexical, loaded.documents, manifest))
    embedder.finish_build()  # the cache keeps what this version and the previous one use
    report = BuildReport(
        version=version,
        documents=len(loaded.documents),
        passages=len(passages),
        sentences=len(sentences),
        skipped=loaded.skipped,
        plan=plan,
        embedded=embedder.misses,
        reused=embedder.hits,
        passages_embedded=passages_embedded,
        passages_removed=max(0, plan.previous_passages - (len(passages) - passages_embedded)),
        kept=kept,
    )
    for source, k in kept_below(kept, settings.kept_warning):
        log.warning(
            "%s: the index keeps %.0f%% of its visible text (is its content lost, or is it navigation?)",
            source,
            100 * k.share,
        )
    return report
