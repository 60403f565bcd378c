"""Language detection with langdetect, made deterministic, with a fallback for short text.

langdetect is probabilistic; a fixed seed makes it repeatable. On a few words it is
often wrong ("MEDEF ?" is not a language), so short or ambiguous text falls back on
cues of French and English (function words, accents), then on a default.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from langdetect import DetectorFactory
from langdetect import detector_factory as _langdetect
from langdetect.lang_detect_exception import LangDetectException

DetectorFactory.seed = 0
_LOCK = threading.Lock()  # langdetect's factory is global state
with warnings.catch_warnings():
    # langdetect leaves its profile files to the garbage collector; load them once, here,
    # so that no later call (in any thread) loads them again half-way
    warnings.simplefilter("ignore", ResourceWarning)
    _langdetect.init_factory()

UNDETERMINED = "und"
_ROWS: dict[str, np.ndarray] = {}  # n-gram -> its per-language probabilities, filled as n-grams are met


def _probabilities(detector: Any) -> list[Any]:
    """langdetect's `Detector.get_probabilities`, with its inner loop on numpy arrays.

    Same n-grams, same seeded random draws, same updates and convergence test as
    langdetect's pure-Python loop over its 55 languages (which took about 8 ms per
    question): the results agree to rounding. Raises LangDetectException like it.
    """
    detector.cleaning_text()
    ngrams = detector._extract_ngrams()
    if not ngrams:
        raise LangDetectException(0, "No features in text.")
    table = detector.word_lang_prob_map
    rows = [_ROWS.get(w) for w in ngrams]
    for i, row in enumerate(rows):
        if row is None:
            rows[i] = _ROWS[ngrams[i]] = np.asarray(table[ngrams[i]], dtype=np.float64)
    total = np.zeros(len(detector.langlist))
    rng = detector.random
    rng.seed(detector.seed)
    for _ in range(detector.n_trial):
        prob = np.asarray(detector._init_probability(), dtype=np.float64)
        weight = (detector.alpha + rng.gauss(0.0, 1.0) * detector.ALPHA_WIDTH) / detector.BASE_FREQ
        i = 0
        while True:
            prob *= weight + rng.choice(rows)
            if i % 5 == 0:
                prob /= prob.sum()
                if prob.max() > detector.CONV_THRESHOLD or i >= detector.ITERATION_LIMIT:
                    break
            i += 1
        total += prob / detector.n_trial
    return list(detector._sort_probability(total.tolist()))


_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
# Function words (and letters) that mark a language in a few words. French and English are
# the documents' languages; Spanish and German are there so that a short question in either
# is not taken for French or English because it shares "la", "de", "in" or "was" with them.
_FUNCTION_WORDS = {
    "fr": frozenset(
        "le la les un une des du de au aux et est sont qui que quoi quel quelle quels quelles "
        "combien comment pourquoi où dans sur pour par avec sans ce cette ces son sa ses leur "
        "leurs nous vous ils elles il elle pas ne plus a ont été être fait faire entre chez "
        "qu'est l d qu".split()
    ),
    "en": frozenset(
        "the a an and is are was were who what which when where why how many much of in on "
        "for by with without this that these those its their we you they he she it not do "
        "does did has have had been be between from".split()
    ),
    "es": frozenset(
        "el la los las un una unos unas de del y es son fue fueron qué que quién quiénes cuál "
        "cuáles cuándo dónde cómo cuánto cuántos cuánta cuántas por para con sin este esta "
        "estos estas su sus se lo al ha han había entre desde hasta muy también".split()
    ),
    "de": frozenset(
        "der die das den dem des ein eine einen einem einer und ist sind war waren wer was "
        "wann wo wie warum welche welcher welches welchen viele von zu zum zur mit für "
        "auf im am aus bei nach über nicht hat haben hatte wurde wurden werden auch sich "
        "dass oder".split()
    ),
}
_LETTERS = {
    "fr": re.compile(r"[éèêàâçîïôûùœ«»]", re.IGNORECASE),
    "es": re.compile(r"[áíóúñ¿¡]", re.IGNORECASE),
    "de": re.compile(r"[äöüß]", re.IGNORECASE),
}
MIN_RELIABLE_LETTERS = 40
MAX_DETECT_CHARS = 1000  # a language shows in its first thousand characters; more only costs time


def _cues(text: str) -> dict[str, int]:
    """For each language of `_FUNCTION_WORDS`, how many of its function words and letters `text` has."""
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    cues = {}
    for lang, vocabulary in _FUNCTION_WORDS.items():
        count = sum(1 for w in words if w in vocabulary or ("'" in w and w.split("'")[0] in vocabulary))
        letters = _LETTERS.get(lang)
        cues[lang] = count + (len(letters.findall(text)) if letters else 0)
    return cues


def _lead(scores: Mapping[str, float], prefer: tuple[str, ...]) -> tuple[str, float]:
    """The best-scored language (the preferred ones win ties) and its lead over the next."""
    order = sorted(scores, key=lambda lang: (-scores[lang], lang not in prefer))
    return order[0], scores[order[0]] - (scores[order[1]] if len(order) > 1 else 0.0)


def detect_language(text: str, fallback: str = UNDETERMINED, prefer: tuple[str, ...] = ("fr", "en")) -> str:
    """ISO 639-1 code of `text`'s language, or `fallback` when it cannot be told.

    Long text is trusted to langdetect. Short text is decided by langdetect's probabilities
    and function-word cues: between the `prefer` languages, unless the cues of another
    language (Spanish, German) clearly outweigh theirs. Never raises.
    """
    letters = sum(ch.isalpha() for ch in text)
    if letters == 0:
        return fallback
    if letters < MIN_RELIABLE_LETTERS and set(prefer) == {"fr", "en"}:
        best_cue, lead = _lead(_cues(text), prefer)
        if lead > 2:  # langdetect adds at most 2 to either side below: this lead decides alone
            return best_cue
    try:
        with _LOCK:
            detector = _langdetect._factory.create()
            detector.set_max_text_length(MAX_DETECT_CHARS)
            detector.append(text)
            candidates = _probabilities(detector)
    except LangDetectException:
        candidates = []
    probs = {c.lang: c.prob for c in candidates}
    best = max(probs, key=lambda k: probs[k]) if probs else None
    if best is not None and letters >= MIN_RELIABLE_LETTERS and probs[best] >= 0.8:
        return best
    cues = _cues(text)
    scores = {lang: cues[lang] + 2 * probs.get(lang, 0.0) for lang in cues}
    pick = max(prefer, key=lambda lang: scores.get(lang, 0.0))
    other, lead = _lead({k: v for k, v in scores.items() if k not in prefer or k == pick}, prefer)
    if other != pick and lead >= 1.0:
        return other  # a language outside `prefer` that its words and langdetect both point to
    if scores.get(pick, 0.0) >= 1.0:
        return pick
    if best is not None and probs[best] >= 0.9 and letters >= 12:
        return best
    return fallback


_NAME = re.compile(r"(?<=\S\s)[A-Z][\w’'-]*|\b[A-Z]{2,}\w*")


def question_language(question: str, fallback: str) -> str:
    """The language of a question, judged on its own words: names ("French Tech Corporate
    Community") are set aside, since they say little about the language of the asker."""
    without_names = _NAME.sub(" ", question)
    if sum(ch.isalpha() for ch in without_names) >= 3:
        found = detect_language(without_names, fallback=UNDETERMINED)
        if found != UNDETERMINED:
            return found
    return detect_language(question, fallback=fallback)
