"""Keyword search: French and English analysis and a BM25 index in a sparse matrix.

Analysis: lower case, French elisions removed (l', d', qu'…), stop words dropped,
Snowball stemming in the text's own language, accents folded. Numbers and words
like "Next40" are kept whole. The index stores, for every passage and term, its
BM25 weight, so scoring a question is one sparse product. A question is analysed
once per passage language and each passage is scored with the terms analysed in its
language, so "entreprises" matches "entreprise" in French passages, and
"companies" matches "company" in English ones.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import Stemmer
from scipy import sparse

K1 = 1.2
B = 0.75
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
_STEMMERS = {
    "fr": "french",
    "en": "english",
    "es": "spanish",
    "de": "german",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
}
STOP_WORDS = {
    "fr": frozenset(
        "a au aux avec ce ces cet cette dans de des du elle elles en est et été être il ils je la le les leur "
        "leurs lui ma mais me même mes moi mon ne nos notre nous on ou où par pas pour qu que qui quoi sa se "
        "ses son sont sur ta te tes toi ton tu un une vos votre vous y à ça été était ont avait sont fait "
        "comme plus aussi entre quel quelle quels quelles combien comment pourquoi quand lequel laquelle "
        "lesquels dont si sans sous chez vers ainsi alors donc car ni or".split()
    ),
    "en": frozenset(
        "a an and are as at be been being but by can could did do does for from had has have he her his how "
        "i if in into is it its me my no not of on or our she so than that the their them then there these "
        "they this those to was we were what when where which while who whom why will with would you your "
        "many much about after before also any other some such only over under up out more most very".split()
    ),
}

_ALL_STOP_WORDS = STOP_WORDS["fr"] | STOP_WORDS["en"]


@lru_cache(maxsize=16)
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    name = _STEMMERS.get(language)
    return Stemmer.Stemmer(name) if name else None


_STEM_LOCK = threading.Lock()  # PyStemmer objects are not thread-safe


@lru_cache(maxsize=1 << 15)  # mostly single words: index terms, names
def fold(text: str) -> str:
    """Lower case without accents: "Équipe" -> "equipe"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def analyse(text: str, language: str) -> list[str]:
    """Index terms of `text` analysed as `language` (no stemming for languages without a stemmer)."""
    return list(_analysed(text, language))


@lru_cache(maxsize=8192)  # the sentences of the top passages come back question after question
def _analysed(text: str, language: str) -> tuple[str, ...]:
    text = _ELISION.sub(" ", unicodedata.normalize("NFKC", text))
    stop = STOP_WORDS.get(language, frozenset())
    words = [w for w in (m.group(0).lower() for m in _TOKEN.finditer(text)) if w not in stop]
    stemmer = _stemmer(language)
    if stemmer is not None:
        with _STEM_LOCK:
            words = [w if any(ch.isdigit() for ch in w) else stemmer.stemWord(w) for w in words]
    return tuple(fold(w) for w in words if len(w) > 1 or w.isdigit())


@lru_cache(maxsize=8192)
def entity_terms(text: str) -> tuple[str, ...]:
    """Terms that mean the same in any language: numbers, acronyms, and capitalised names
    that do not merely start a sentence ("Rouen", "MEDEF", "Next40", "2021").
    Cached: the sentences of the top passages come back question after question."""
    text = _ELISION.sub(" ", text)
    terms = []
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        before = m.start() - 1
        while before >= 0 and text[before].isspace():
            before -= 1
        sentence_start = before < 0 or text[before] in '.!?…:\n"«“'
        has_digit = any(ch.isdigit() for ch in word)
        acronym = len(word) > 1 and word.isupper()
        name = word[:1].isupper() and len(word) > 1 and not sentence_start and word.lower() not in _ALL_STOP_WORDS
        if has_digit or acronym or name:
            terms.append(fold(word))
    return tuple(terms)


@dataclass
class LexicalIndex:
    """BM25 weights of every (passage, term), and each passage's language."""

    vocabulary: dict[str, int]
    weights: sparse.csr_matrix  # passages x terms
    languages: list[str]
    postings: sparse.csc_matrix = field(init=False, repr=False)  # the same weights, one column per term

    def __post_init__(self) -> None:
        # built here, when a version loads (in the background for a running service), not on
        # the first question: at a million passages the copy takes seconds
        self.postings = self.weights.tocsc()

    @classmethod
    def build(cls, texts: list[str], languages: list[str]) -> LexicalIndex:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, (text, lang) in enumerate(zip(texts, languages, strict=True)):
            terms = analyse(text, lang) + [f"\x01{t}" for t in entity_terms(text)]
            lengths[row] = len(terms)
            tf: dict[int, int] = {}
            for term in terms:
                column = vocabulary.setdefault(term, len(vocabulary))
                tf[column] = tf.get(column, 0) + 1
            rows.extend([row] * len(tf))
            cols.extend(tf.keys())
            counts.extend(tf.values())
        n = len(texts)
        tf_matrix = sparse.csr_matrix(
            (np.asarray(counts, np.float32), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
            shape=(n, max(len(vocabulary), 1)),
        )
        df = np.bincount(tf_matrix.indices, minlength=tf_matrix.shape[1]).astype(np.float32)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if n else 1.0
        coo = tf_matrix.tocoo()
        norm = K1 * (1 - B + B * lengths[coo.row] / max(avg, 1e-6))
        data = idf[coo.col] * coo.data * (K1 + 1) / (coo.data + norm)
        weights = sparse.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=tf_matrix.shape)
        return cls(vocabulary, weights, list(languages))

    def idf(self) -> np.ndarray:
        """Inverse document frequency of every term (computed once)."""
        cached = self.__dict__.get("_idf")
        if cached is None:
            n = self.weights.shape[0]
            df = np.bincount(self.weights.indices, minlength=self.weights.shape[1]).astype(np.float32)
            cached = np.log(1 + (n - df + 0.5) / (df + 0.5))
            self.__dict__["_idf"] = cached
        return cached

    def scores(self, question: str, question_language: str) -> tuple[np.ndarray, list[str]]:
        """BM25 score of every passage, and the question terms that exist in the index.

        A passage in the question's language is scored on all the question's terms
        analysed in that language; a passage in another language only on terms that
        cross languages (numbers, names, acronyms), so keyword overlap between two
        different languages cannot outweigh meaning.
        """
        n = self.weights.shape[0]
        total = np.zeros(n, dtype=np.float32)
        if n == 0:
            return total, []
        entities = [f"\x01{t}" for t in entity_terms(question)]
        matched: set[str] = set()
        same = self.same_language(question_language)
        if same.any():
            terms = analyse(question, question_language)
            matched.update(t for t in terms if t in self.vocabulary)
            total += np.where(same, self._score_terms(terms + entities), 0)
        if not same.all() and entities:
            total += np.where(same, 0, self._score_terms(entities))
        matched.update(t[1:] for t in entities if t in self.vocabulary)
        return total, sorted(matched)

    def same_language(self, language: str) -> np.ndarray:
        """Boolean mask of the passages in `language` (cached per language)."""
        masks = self.__dict__.setdefault("_masks", {})
        if language not in masks:
            masks[language] = np.asarray(self.languages) == language
        return masks[language]  # type: ignore[no-any-return]

    def _score_terms(self, terms: list[str]) -> np.ndarray:
        """Sum of the BM25 weights of `terms` for every passage, reading only their postings."""
        columns = [self.vocabulary[t] for t in terms if t in self.vocabulary]
        if not columns:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        unique, counts = np.unique(np.asarray(columns), return_counts=True)
        return np.asarray(self.postings[:, unique] @ counts.astype(np.float32), dtype=np.float32).ravel()

    def shared_terms(self, row: int, question: str, question_language: str) -> tuple[str, ...]:
        """The question's words that the passage at `row` contains (as analysed), in question order."""
        start, end = self.weights.indptr[row], self.weights.indptr[row + 1]
        present = set(self.weights.indices[start:end].tolist())
        same = self.languages[row] == question_language
        names = set(entity_terms(question))
        words: list[str] = []
        for m in _TOKEN.finditer(_ELISION.sub(" ", question)):
            word = m.group(0)
            keys = [f"\x01{fold(word)}"] if fold(word) in names else []
            if same:
                keys += analyse(word, question_language)
            if any(self.vocabulary.get(key) in present for key in keys) and word not in words:
                words.append(word)
        return tuple(words)

    def save(self, directory: Path) -> None:
        sparse.save_npz(directory / "lexical.npz", self.weights, compressed=False)
        (directory / "lexical.json").write_text(
            json.dumps({"vocabulary": self.vocabulary, "languages": self.languages}, ensure_ascii=False),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        weights = sparse.load_npz(directory / "lexical.npz").tocsr()
        meta = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
        return cls(meta["vocabulary"], weights, meta["languages"])
