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

import numpy as np

from assistant.answering.abstention import confidence as answer_confidence
from assistant.answering.abstention import verdict_needed
from assistant.answering.answer import (
    Candidate,
    answer_first,
    candidates,
    citations_for,
    distinct,
    message,
    read,
    span_of,
)
from assistant.config import Settings
from assistant.errors import BadQuestion
from assistant.indexing.indexer import BuildReport, Plan, build_index, plan_build
from assistant.models.embedding import Embedder, load_bulk_embedder, load_embedder
from assistant.models.reader import Reader, load_reader
from assistant.retrieval.followup import contextual_query
from assistant.retrieval.search import hybrid_search
from assistant.serving.versions import ServedVersion
from assistant.stores.base import Store, StoredIndex
from assistant.text.language import question_language
from assistant.text.question import AnalysedQuestion
from assistant.types import Answer, Document, Hit

log = logging.getLogger(__name__)

FOLLOW_UP_TURNS = 2  # previous questions that give context to a follow-up
# asked once before serving, one per language: every model has run and every lazy table is filled
WARM_UP = ("What do the documents say about this?", "Que disent les documents à ce sujet ?")
MAX_TOP_K = 20  # most passages one answer cites


@dataclass(frozen=True)
class Evidence:
    """What an answer is decided on."""

    query: AnalysedQuestion  # the question as searched (with the conversation, for a follow-up)
    hits: list[Hit]
    chosen: Candidate | None  # the answer sentence, if the passages have one
    verdict: float | None  # the reader's logit for it; None without the reader
    first_verdict: float | None = None  # the reader's best logit for a sentence of the first passage


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

    The model is loaded on first use (or given). When another index version becomes
    current it is loaded in the background, so a running service follows rebuilds without
    making anyone wait; each answer is computed on one version from start to end.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._reader: Reader | None = None
        self._model_lock = threading.Lock()
        self._encoder = ThreadPoolExecutor(max_workers=8, thread_name_prefix="encode")
        self._bulk: Embedder | None = None
        # the model is loaded outside the version's locks: its identity is asked for lazily
        self.versions = ServedVersion(settings, lambda: self.embedder.identity)

    @property
    def index_store(self) -> Store:
        """Where the index versions live (see `ServedVersion.index_store`)."""
        return self.versions.index_store

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._model_lock:
                if self._embedder is None:
                    self._embedder = load_embedder(self.settings)
        return self._embedder

    @property
    def bulk_embedder(self) -> Embedder:
        """What builds embed with: the serving model, or the same model on a GPU (`settings.device`)."""
        if self._bulk is None:
            serving = self.embedder
            with self._model_lock:
                if self._bulk is None:
                    self._bulk = load_bulk_embedder(self.settings, serving)
        return self._bulk

    @property
    def reader(self) -> Reader | None:
        """The answer reader (None when `settings.reader` is off), loaded on first use."""
        if not self.settings.reader:
            return None
        if self._reader is None:
            with self._model_lock:
                if self._reader is None:
                    self._reader = load_reader(self.settings)
        return self._reader

    def build(
        self, progress: bool = False, full: bool = False, on_phase: Callable[[str], None] | None = None
    ) -> BuildReport:
        """Bring the index up to date with the corpus (incrementally unless `full`) and serve it."""
        report = build_index(
            self.settings,
            self.bulk_embedder,
            self.settings.corpus,
            self.settings.index,
            self.index_store,
            progress,
            full,
            on_phase,
        )
        self.settle()
        return report

    def plan(self) -> Plan:
        """What `build` would change, without loading the model or writing anything."""
        return plan_build(self.settings, self.settings.corpus, self.index_store, None)[0]

    def has_index(self) -> bool:
        return self.index_store.current_version() is not None

    def store(self) -> StoredIndex:
        """The index version to answer from (see `ServedVersion.current`)."""
        return self.versions.current()

    def settle(self, timeout: float | None = None) -> StoredIndex:
        """The version to answer from once any load in progress has finished."""
        return self.versions.settle(timeout)

    def warm(self) -> None:
        """Load the index version, the model and the reader and run them once (a question per
        language through the whole answer path), so that the first user waits for none of it."""
        for question in WARM_UP:
            self.answer(question)

    def evidence(self, store: StoredIndex, question: str, k: int, history: list[Turn] | None = None) -> Evidence:
        """What an answer is decided on: the passages found, the candidate sentence chosen and the
        reader's verdict on it (`question` already cleaned)."""
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
        searched = AnalysedQuestion.of(query, language)
        asked = searched if query == question else AnalysedQuestion.of(question, language)
        hits = distinct(hybrid_search(store, searched, vector, 2 * k))[:k]
        ranked = candidates(store, hits, own_vector, asked) if hits else []
        chosen, verdict, first_verdict = ranked[0] if ranked else None, None, None
        reader = self.reader
        if reader is not None and ranked:
            # a follow-up is read with the questions before it ("Combien d'entretiens a-t-elle
            # menés ?" says who only with them); the answers given are left out, they are long
            earlier = [t.question for t in (history or [])[-FOLLOW_UP_TURNS:]] if query != question else []
            needed = verdict_needed(hits, store.lexical, searched, self.settings.abstain_below)
            chosen, verdict, first_verdict = read(reader, " ".join([*earlier, question]), ranked, needed)
        return Evidence(searched, hits, chosen, verdict, first_verdict)

    def answer(self, question: str, top_k: int | None = None, history: list[Turn] | None = None) -> Answer:
        """Cited passages for `question`, the sentence that answers it, or an abstention."""
        began = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        k = top_k if top_k is not None else self.settings.top_k
        if not 1 <= k <= MAX_TOP_K:
            raise BadQuestion(f"top_k must be between 1 and {MAX_TOP_K}")
        for turn in history or []:
            if len(turn.question) > self.settings.max_question_chars:
                raise BadQuestion(
                    f"a previous question in the history is {len(turn.question)} characters long; "
                    f"the limit is {self.settings.max_question_chars}"
                )
        store = self.store()
        found = self.evidence(store, question, k, history)
        language, hits, chosen = found.query.language, found.hits, found.chosen
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
        confidence = answer_confidence(hits, store.lexical, found.query, found.verdict)
        abstained = confidence < self.settings.abstain_below
        if not abstained and chosen is not None:
            hits, chosen = answer_first(hits, chosen, found.verdict, found.first_verdict)
        citations = citations_for(store, hits)
        span = None if abstained or chosen is None else span_of(chosen, store, hits)
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
