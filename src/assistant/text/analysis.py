"""Text analysis shared by keyword search, answer sentences, abstention and follow-ups.

Lower case, French elisions removed (l', d', qu'…), stop words dropped, Snowball
stemming in the text's own language, accents folded; numbers and words like "Next40"
are kept whole. `entity_terms` finds the words that mean the same in any language
(numbers, acronyms, names).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import Stemmer

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


def words(text: str) -> list[str]:
    """The words of `text` as written, French elisions removed ("l'équipe" -> "équipe")."""
    return [m.group(0) for m in _TOKEN.finditer(_ELISION.sub(" ", text))]


NAME_MARK = "\x01"  # a name's key in the keyword index: apart from the ordinary term of the same letters
STEM_MARK = "\x02"  # a shared stem's key (`shared_stems`): never an index term
SHARED_STEM = 5  # letters of a long word that French and English spellings share


def name_key(name: str) -> str:
    """The keyword-index key of a name (as `entity_terms` gives it)."""
    return NAME_MARK + name


def shared_stems(text: str) -> set[str]:
    """Word stems that French and English technical text share: the first letters of long words
    ("protocole"/"protocol", "configuration", "système"/"system" -> "proto", "confi", "syste")."""
    return {STEM_MARK + w[:SHARED_STEM] for w in fold(text).split() if len(w) > SHARED_STEM and w.isalpha()}
