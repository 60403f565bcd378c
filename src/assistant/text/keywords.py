"""Keyword search: a BM25 index of the passages in a sparse matrix.

The index stores, for every passage and term, its BM25 weight, so scoring a question is
one sparse product. A question is analysed (`text.py`) once per passage language and each
passage is scored with the terms analysed in its language, so "entreprises" matches
"entreprise" in French passages, and "companies" matches "company" in English ones.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from assistant.text.analysis import NAME_MARK, analyse, entity_terms, name_key
from assistant.text.question import AnalysedQuestion

K1 = 1.2
B = 0.75
SAME_STEM = 5  # a stem this long, found in a passage of another language, is the same word ("secur", "system")
COGNATE = 6  # stems this long that share most of their letters are cognates ("ambassadeur" / "ambassador")


def bm25_idf(df: np.ndarray | np.floating, n: int) -> np.ndarray:
    """BM25's inverse document frequency of terms found in `df` of `n` passages."""
    return np.log(1 + (n - df + 0.5) / (df + 0.5))  # type: ignore[no-any-return]


@dataclass
class LexicalIndex:
    """BM25 weights of every (passage, term), and each passage's language."""

    vocabulary: dict[str, int]
    weights: sparse.csr_matrix  # passages x terms
    languages: list[str]
    postings: sparse.csc_matrix = field(init=False, repr=False)  # the same weights, one column per term

    _prefixes: dict[str, tuple[str, ...]] = field(init=False, repr=False)  # stems by their first COGNATE letters

    def __post_init__(self) -> None:
        # built here, when a version loads (in the background for a running service), not on
        # the first question: at a million passages the copy takes seconds
        self.postings = self.weights.tocsc()
        prefixes: dict[str, list[str]] = {}
        for term in self.vocabulary:
            if len(term) >= COGNATE and term[0] != NAME_MARK and term.isalpha():
                prefixes.setdefault(term[:COGNATE], []).append(term)
        self._prefixes = {k: tuple(v) for k, v in prefixes.items()}

    def cognates(self, terms: list[str]) -> list[str]:
        """Index terms that are the same word as one of `terms` in another language: the same
        stem ("système" and "systems" are both "system"), or a long stem that differs only in its
        ending ("ambassadeur" / "ambassador", "install" / "instal"). French and English share
        thousands of such words; a question in one language finds its keywords in the other's
        passages through them."""
        found: list[str] = []
        for term in dict.fromkeys(terms):
            if len(term) >= SAME_STEM and term in self.vocabulary:
                found.append(term)
            if len(term) < COGNATE or not term.isalpha():
                continue
            for other in self._prefixes.get(term[:COGNATE], ()):
                if other != term and abs(len(other) - len(term)) <= 2:
                    shared = next(
                        (i for i, (a, b) in enumerate(zip(term, other, strict=False)) if a != b),
                        min(len(term), len(other)),
                    )
                    if shared >= 0.75 * min(len(term), len(other)):
                        found.append(other)
        return found

    @classmethod
    def build(cls, texts: list[str], languages: list[str]) -> LexicalIndex:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, (text, lang) in enumerate(zip(texts, languages, strict=True)):
            terms = analyse(text, lang) + [name_key(t) for t in entity_terms(text)]
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
        idf = bm25_idf(np.bincount(tf_matrix.indices, minlength=tf_matrix.shape[1]).astype(np.float32), n)
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
            df = np.bincount(self.weights.indices, minlength=self.weights.shape[1]).astype(np.float32)
            cached = bm25_idf(df, self.weights.shape[0])
            self.__dict__["_idf"] = cached
        return cached

    def term_idf(self, term: str) -> float:
        """The IDF of `term`; a term no passage has weighs as one in no passage."""
        column = self.vocabulary.get(term)
        if column is None:
            return float(bm25_idf(np.float64(0.0), self.weights.shape[0]))
        return float(self.idf()[column])

    def scores(self, question: AnalysedQuestion) -> tuple[np.ndarray, list[str]]:
        """BM25 score of every passage, and the question terms that exist in the index.

        A passage in the question's language is scored on all the question's terms
        analysed in that language; a passage in another language only on terms that
        cross languages (numbers, names, acronyms, and cognates: see `cognates`), so
        keyword overlap between two different languages cannot outweigh meaning.
        """
        n = self.weights.shape[0]
        total = np.zeros(n, dtype=np.float32)
        if n == 0:
            return total, []
        entities = question.name_keys
        matched: set[str] = set()
        same = self.same_language(question.language)
        terms = list(question.terms)
        if same.any():
            matched.update(t for t in terms if t in self.vocabulary)
            total += np.where(same, self._score_terms(terms + entities), 0)
        across = entities + self.cognates(terms) if not same.all() else []
        if across:
            total += np.where(same, 0, self._score_terms(across))
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

    def shared_terms(self, row: int, question: AnalysedQuestion) -> tuple[str, ...]:
        """The question's words that the passage at `row` contains (as analysed), in question order."""
        start, end = self.weights.indptr[row], self.weights.indptr[row + 1]
        present = set(self.weights.indices[start:end].tolist())
        same = self.languages[row] == question.language
        names = set(question.names)
        shared: list[str] = []
        for word, folded, analysed in question.words:
            keys = [name_key(folded)] if folded in names else []
            keys += list(analysed) if same else self.cognates(list(analysed))
            if any(self.vocabulary.get(key) in present for key in keys) and word not in shared:
                shared.append(word)
        return tuple(shared)

    def to_bytes(self) -> tuple[bytes, bytes]:
        """The weights (.npz of plain arrays) and the vocabulary with the passages' languages (JSON)."""
        weights = io.BytesIO()
        sparse.save_npz(weights, self.weights, compressed=False)
        meta = json.dumps({"vocabulary": self.vocabulary, "languages": self.languages}, ensure_ascii=False)
        return weights.getvalue(), meta.encode("utf-8")

    @classmethod
    def from_bytes(cls, weights: bytes, meta: bytes) -> LexicalIndex:
        matrix = sparse.load_npz(io.BytesIO(weights)).tocsr()  # plain arrays only (scipy refuses objects)
        parsed = json.loads(meta.decode("utf-8"))
        return cls(parsed["vocabulary"], matrix, parsed["languages"])

    def save(self, directory: Path) -> None:
        weights, meta = self.to_bytes()
        (directory / "lexical.npz").write_bytes(weights)
        (directory / "lexical.json").write_bytes(meta)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        return cls.from_bytes((directory / "lexical.npz").read_bytes(), (directory / "lexical.json").read_bytes())
