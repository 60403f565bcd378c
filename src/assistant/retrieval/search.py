"""Question -> ranked passages: dense and keyword evidence, fused with languages in mind.

Dense retrieval (multilingual embeddings) crosses languages; keyword search (BM25 with
French and English analysis) nails names, figures and rare words but only within a
language. Naive rank fusion lets same-language keyword matches crowd out the right
passage in the other language. Here keyword evidence is scored per passage language
(see `LexicalIndex.scores`: only numbers and names count across languages) and added to
the dense similarity as a bounded bonus, so it can reorder passages that the model
already finds close but cannot promote an unrelated one over a strong cross-language
match. Each candidate's similarity is the better of the passage's and (slightly
discounted) its best sentence's, since a question usually matches one sentence.

The model rates text in the question's language closer than the same meaning in another
language (on a bilingual manual, a French question's best French passage often beats the
English passage that answers it). So each passage language is scored against its own
background: the mean similarity of that language's best passages for this question is
brought to the level of the best language's. A passage wins by standing out among the
passages of its language, not by sharing the question's language.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.stores.base import StoredIndex
from assistant.text.question import AnalysedQuestion
from assistant.types import Hit


@dataclass(frozen=True)
class Fusion:
    """Weights of the fused score, chosen with `assistant eval` (docs/quality.md#fusion)."""

    passage: float = 1.0
    sentence: float = 1.0
    lexical: float = 0.03
    dense_candidates: int = 50
    lexical_candidates: int = 20
    background: int = 10  # a language's background: the mean of its best this-many similarities
    background_pool: int = 200  # dense results the backgrounds are taken from


DEFAULT_FUSION = Fusion()


def language_shifts(store: StoredIndex, pool: list[tuple[int, float]], size: int) -> dict[str, float]:
    """What to add to the scores of each passage language so that every language's background
    (mean of its `size` best similarities in `pool`) matches the highest one. A language with
    fewer than `size` passages in the pool is left as it is."""
    by_language: dict[str, list[float]] = {}
    for row, similarity in pool:
        by_language.setdefault(store.passages[row].language, []).append(similarity)
    backgrounds = {lang: float(np.mean(s[:size])) for lang, s in by_language.items() if len(s) >= size}
    top = max(backgrounds.values(), default=0.0)
    return {lang: top - b for lang, b in backgrounds.items()}


def hybrid_search(
    store: StoredIndex,
    question: AnalysedQuestion,
    query_vector: np.ndarray,
    k: int,
    fusion: Fusion = DEFAULT_FUSION,
) -> list[Hit]:
    """The `k` best passages by fused dense, sentence and keyword evidence, best first."""
    n = len(store.passages)
    if n == 0:
        return []
    pool = store.search(query_vector, max(k, fusion.dense_candidates, fusion.background_pool))
    shifts = language_shifts(store, pool, fusion.background) if fusion.background else {}
    dense = dict(pool[: max(k, fusion.dense_candidates)])
    if shifts:  # a passage that its language's shift lifts into the candidates must be among them
        floor = pool[min(len(pool), max(k, fusion.dense_candidates)) - 1][1]
        dense.update((r, s) for r, s in pool if s + shifts.get(store.passages[r].language, 0.0) >= floor)
    lexical, _ = store.lexical.scores(question)
    best_lexical = float(lexical.max()) if lexical.size else 0.0
    # Keyword evidence is relative to the best passage of the same side: passages in the
    # question's language (scored on all its words) and the others (scored on names and
    # figures only) each have their own best, so neither side starts with an advantage.
    same_language = store.lexical.same_language(question.language)
    best_same = float(lexical[same_language].max()) if same_language.any() else 0.0
    best_other = float(lexical[~same_language].max()) if (~same_language).any() else 0.0
    candidates = set(dense)
    if best_lexical > 0:
        top = min(fusion.lexical_candidates, n)
        candidates.update(int(r) for r in np.argpartition(-lexical, top - 1)[:top] if lexical[r] > 0)
    others = sorted(candidates - set(dense))  # found by keywords only: their similarity, in one look-up
    dense.update(zip(others, (store.passage_vectors(others) @ query_vector).tolist(), strict=True))
    hits = []
    for row in candidates:
        similarity = dense[row]
        sentences = store.sentence_vectors_of(row)
        sentence = float((sentences @ query_vector).max()) if len(sentences) else similarity
        best = best_same if same_language[row] else best_other
        relative = float(lexical[row]) / best if best > 0 else 0.0
        score = fusion.passage * similarity + fusion.sentence * max(sentence, similarity) + fusion.lexical * relative
        shift = shifts.get(store.passages[row].language, 0.0)
        score = score / (fusion.passage + fusion.sentence) + shift
        hits.append(
            Hit(
                store.passages[row],
                score,
                row,
                similarity=similarity,
                sentence_similarity=sentence,
                lexical=relative,
                terms=store.lexical.shared_terms(row, question) if lexical[row] > 0 else (),
                shift=shift,
            )
        )
    hits.sort(key=lambda h: (-h.score, h.row))
    return hits[:k]
