"""Knowing when not to answer: a calibrated confidence that the documents answer the question.

Signals of the best passage (all cheap, all already computed by the search):
- `similarity`: cosine between question and passage;
- `sentence`: best cosine between question and one sentence of the passage;
- `coverage`: share of the question's terms (weighted by rarity) that the passage
  contains: all terms when passage and question share a language, else only names
  and figures; a question whose rare words are nowhere in the passage is suspect;
- `gap`: how far the best passage stands above the second.

They are combined by a logistic regression whose coefficients were fitted with
`python scripts/fit_abstention.py` on a calibration sample of the held-out-articles
benchmark (seed 1, 500 questions per slice) drawn among the questions that
`assistant eval` does not ask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from assistant.text.keywords import LexicalIndex
from assistant.text.question import AnalysedQuestion
from assistant.types import Hit

NEUTRAL_COVERAGE = 0.5  # when the question has no term that can be compared


@dataclass(frozen=True)
class Signals:
    similarity: float
    sentence: float
    coverage: float
    gap: float

    def as_list(self) -> list[float]:
        return [self.similarity, self.sentence, self.coverage, self.gap]


@dataclass(frozen=True)
class AbstentionModel:
    weights: tuple[float, float, float, float]
    bias: float

    def logit(self, signals: Signals) -> float:
        return self.bias + sum(w * x for w, x in zip(self.weights, signals.as_list(), strict=True))

    def confidence(self, signals: Signals) -> float:
        return _sigmoid(self.logit(signals))


FLOOR_SLOPE = 2.0  # how sharply a reader model's floor caps the confidence: 0.5 at the floor, 0.88 one logit above


@dataclass(frozen=True)
class ReaderModel:
    """The retrieval model's logit and the reader's logit for its chosen sentence, combined;
    with a `floor`, a reader's verdict below it caps the confidence under 0.5 whatever the
    retrieval says (the reader's strong no: see `READER_MODELS`)."""

    retrieval: float
    reader: float
    bias: float
    floor: float | None = None

    def confidence(self, retrieval_logit: float, reader_logit: float) -> float:
        combined = _sigmoid(self.bias + self.retrieval * retrieval_logit + self.reader * reader_logit)
        if self.floor is None:
            return combined
        return min(combined, _sigmoid(FLOOR_SLOPE * (reader_logit - self.floor)))

    def verdict_needed(self, retrieval_logit: float, threshold: float) -> float:
        """The reader's verdict from which the confidence reaches `threshold` (the inverse of
        `confidence` in the verdict: it rises with the verdict)."""
        if threshold <= 0.0:
            return -math.inf
        if threshold >= 1.0:
            return math.inf
        odds = math.log(threshold / (1.0 - threshold))
        needed = (odds - self.bias - self.retrieval * retrieval_logit) / self.reader
        return needed if self.floor is None else max(needed, self.floor + odds / FLOOR_SLOPE)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


# Fitted by `python scripts/fit_abstention.py`: one model for a best passage in the question's
# language, one across languages, where similarities run lower (docs/quality.md#the-abstention-models)
SAME_LANGUAGE = AbstentionModel(weights=(30.71, 38.26, 4.83, 7.43), bias=-58.69)
CROSS_LANGUAGE = AbstentionModel(weights=(43.21, 35.35, 0.16, 38.01), bias=-62.39)
# With the reader: fitted by `python scripts/fit_abstention.py --reader` on train articles; per
# language, the reader's scores running higher in English; French keeps a floor, the reader's
# strong no being rarely wrong (docs/quality.md#the-abstention-models)
READER_MODELS = {
    "fr": ReaderModel(retrieval=0.536, reader=0.527, bias=0.457, floor=-1.75),
    "en": ReaderModel(retrieval=0.617, reader=0.880, bias=-1.949),
}
READER_CROSS_LANGUAGE = ReaderModel(retrieval=0.848, reader=0.758, bias=0.081)


def coverage(lexical: LexicalIndex, row: int, question: AnalysedQuestion) -> float:
    """IDF-weighted share of the question's terms found in the passage at `row`."""
    same = lexical.languages[row] == question.language
    terms = (list(question.terms) if same else []) + question.name_keys
    if not terms:
        return NEUTRAL_COVERAGE
    weights = lexical.weights
    present = set(weights.indices[weights.indptr[row] : weights.indptr[row + 1]].tolist())
    total = found = 0.0
    for term in terms:
        w = lexical.term_idf(term)
        total += w
        column = lexical.vocabulary.get(term)
        if column is not None and column in present:
            found += w
    return found / total if total else NEUTRAL_COVERAGE


def confidence(
    hits: list[Hit], lexical: LexicalIndex, question: AnalysedQuestion, reader_logit: float | None = None
) -> float:
    """Probability-like confidence (0..1) that the documents answer the question: from the
    retrieval signals, and with `reader_logit` (the reader's verdict on the answer sentence)
    from both."""
    z, reader = _retrieval(hits, lexical, question)
    return _sigmoid(z) if reader_logit is None else reader.confidence(z, reader_logit)


def verdict_needed(hits: list[Hit], lexical: LexicalIndex, question: AnalysedQuestion, threshold: float) -> float:
    """The reader's verdict that an answer sentence needs for the answer to be given (confidence
    at least `threshold`), from the retrieval signals alone: known before the reader reads."""
    z, reader = _retrieval(hits, lexical, question)
    return reader.verdict_needed(z, threshold)


def reader_model(language: str, same_language: bool) -> ReaderModel:
    """The reader combination for a question in `language` whose best passage is in its language or not."""
    return READER_MODELS.get(language if same_language else "", READER_CROSS_LANGUAGE)


def _retrieval(hits: list[Hit], lexical: LexicalIndex, question: AnalysedQuestion) -> tuple[float, ReaderModel]:
    """The retrieval logit (same-language or cross-language model) and the reader combination to apply to it."""
    same = hits[0].passage.language == question.language
    z = (SAME_LANGUAGE if same else CROSS_LANGUAGE).logit(signals(hits, lexical, question))
    return z, reader_model(question.language, same)


def signals(hits: list[Hit], lexical: LexicalIndex, question: AnalysedQuestion) -> Signals:
    top = hits[0]
    gap = top.score - hits[1].score if len(hits) > 1 else 0.0
    return Signals(top.similarity, top.sentence_similarity, coverage(lexical, top.row, question), gap)
