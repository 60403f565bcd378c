"""The Assistant: the one facade that the CLI and the HTTP API both call."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from assistant.abstention import confidence as answer_confidence
from assistant.answer import answer_sentence, citations_for, distinct, message
from assistant.config import Settings
from assistant.embedding import Embedder, load_embedder
from assistant.errors import BadQuestion, IndexMismatch, IndexMissing
from assistant.followup import contextual_query
from assistant.indexer import BuildReport, Plan, build_index, plan_build
from assistant.language import question_language
from assistant.search import hybrid_search
from assistant.store import StoredIndex, current_version, load_version
from assistant.types import Answer, Document

log = logging.getLogger(__name__)

FOLLOW_UP_TURNS = 2  # previous questions that give context to a follow-up


@dataclass(frozen=True)
class Turn:
    """A previous exchange of the conversation."""

    question: str
    answer: str | None = None


def clean_question(question: str, max_chars: int) -> str:
    """The question without control characters and surrounding space; BadQuestion if unusable."""
    if not isinstance(question, str):
        raise BadQuestion("the question must be text")
    cleaned = "".join(
        ch if not unicodedata.category(ch).startswith("C") or ch in "\n\t" else " " for ch in question
    ).strip()
    if not cleaned:
        raise BadQuestion("the question is empty: ask something about the documents")
    if len(cleaned) > max_chars:
        raise BadQuestion(f"the question is {len(cleaned)} characters long; the limit is {max_chars}")
    return cleaned


class Assistant:
    """Answers questions from an index version, and builds new versions.

    The model is loaded on first use (or given). The index is reloaded when another
    version becomes current, so a running service follows rebuilds; each answer is
    computed on one version from start to end.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._store: StoredIndex | None = None
        self._refused: str | None = None  # a version that failed to load; the loaded one keeps serving
        self._model_lock = threading.Lock()
        self._store_lock = threading.Lock()
        # Answers search one question at a time: FAISS's OpenMP threads gain nothing there,
        # and their spinning after each search took the model's cycles (5 ms of a 15 ms answer).
        faiss.omp_set_num_threads(1)
        self._encoder = ThreadPoolExecutor(max_workers=8, thread_name_prefix="encode")

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._model_lock:
                if self._embedder is None:
                    self._embedder = load_embedder(self.settings)
        return self._embedder

    def build(
        self, progress: bool = False, full: bool = False, on_phase: Callable[[str], None] | None = None
    ) -> BuildReport:
        """Bring the index up to date with the corpus (incrementally unless `full`) and serve it."""
        report = build_index(
            self.settings, self.embedder, self.settings.corpus, self.settings.index, progress, full, on_phase
        )
        self.store()
        return report

    def plan(self) -> Plan:
        """What `build` would change, without loading the model or writing anything."""
        return plan_build(self.settings, self.settings.corpus, self.settings.index, None)[0]

    def has_index(self) -> bool:
        return current_version(self.settings.index) is not None

    def store(self) -> StoredIndex:
        """The current index version, reloaded if a newer one was switched to."""
        version = current_version(self.settings.index)
        if version is None and self._store is not None:
            return self._store  # the pointer is gone (deleted, or being restored): keep what works
        if version is None:
            raise IndexMissing(
                f"no index in {self.settings.index}/ — run `assistant index` to build it from {self.settings.corpus}/"
            )
        store = self._store
        if store is not None and version in (store.version, self._refused):
            return store
        identity = self.embedder.identity  # load the model outside the store lock
        with self._store_lock:
            store = self._store
            if store is None or version not in (store.version, self._refused):
                try:
                    store = load_version(self.settings.index, identity)
                except IndexMismatch as exc:
                    if store is None:
                        raise
                    # a damaged new version must not take down a service that has a good one
                    log.error("index version %s refused (%s); still serving %s", version, exc, store.version)
                    self._refused = version
                else:
                    self._store = store
        return store

    def answer(self, question: str, top_k: int | None = None, history: list[Turn] | None = None) -> Answer:
        """Cited passages for `question`, the sentence that answers it, or an abstention."""
        began = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        k = top_k if top_k is not None else self.settings.top_k
        if not 1 <= k <= 20:
            raise BadQuestion("top_k must be between 1 and 20")
        store = self.store()
        previous = [text for t in (history or [])[-FOLLOW_UP_TURNS:] for text in (t.question, t.answer or "")]
        # Without a conversation the question is encoded as it stands: the model runs (it
        # releases the GIL) while this thread detects the language.
        encoding = None if previous else self._encoder.submit(self.embedder.encode_queries, [question])
        language = question_language(question, self.settings.default_language)
        query = contextual_query(question, language, previous)
        # a follow-up is searched with the conversation; its answer sentence must answer the
        # question itself, in that context: it is chosen with both meanings averaged
        if encoding is not None and query == question:
            vectors = encoding.result()
        else:
            vectors = self.embedder.encode_queries([query] if query == question else [query, question])
        vector = vectors[0]
        own_vector = vectors.mean(axis=0)
        own_vector /= float(np.linalg.norm(own_vector)) or 1.0
        hits = distinct(hybrid_search(store, query, language, vector, 2 * k))[:k]
        if not hits:
            return Answer(
                question,
                language,
                None,
                True,
                message("empty", language),
                index_version=store.version,
                took_ms=_ms(began),
            )
        citations = citations_for(store, hits)
        confidence = answer_confidence(hits, store.lexical, query, language)
        abstained = confidence < self.settings.abstain_below
        span = None if abstained else answer_sentence(store, hits, own_vector, question, language)
        if abstained:
            text = message("abstain", language)
        else:
            source = citations[span.citation if span else 0]
            text = message("answer", language, title=source.title, n=len(citations))
        return Answer(
            question=question,
            language=language,
            answer=span,
            abstained=abstained,
            message=text,
            citations=citations,
            confidence=round(confidence, 4),
            index_version=store.version,
            took_ms=_ms(began),
        )

    def documents(self) -> list[tuple[Document, int]]:
        """Indexed documents with their passage counts."""
        store = self.store()
        counts = store.passage_counts
        return [(d, counts[d.id]) for d in store.documents.values()]

    def document(self, document_id: str) -> tuple[Document, int] | None:
        """An indexed document by id and its passage count; None for anything else (no file system access)."""
        store = self.store()
        doc = store.documents.get(document_id)
        return None if doc is None else (doc, store.passage_counts[doc.id])


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 2)


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The JSON shape shared by `ask --json` and `POST /api/answer`."""
    return {
        "question": answer.question,
        "language": answer.language,
        "answer": dataclasses.asdict(answer.answer) if answer.answer else None,
        "abstained": answer.abstained,
        "message": answer.message,
        "citations": [dataclasses.asdict(c) for c in answer.citations],
        "confidence": answer.confidence,
        "index_version": answer.index_version,
        "took_ms": answer.took_ms,
    }
