"""Follow-up questions: when does a question lean on the conversation before it?

"Et qui la coordonne ?" means nothing alone; "What is the capital of Australia?" asked
after a question about MEDEF must not be read as a question about MEDEF. A question is
treated as a follow-up when it names nothing itself (no names, acronyms or figures) and
either refers back (pronouns such as it/they/la/en/y) or is only a few words long. Then
the previous questions (and the answers they got) are prepended to it for retrieval.
"""

from __future__ import annotations

import re

from assistant.text.analysis import entity_terms

_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)
_REFERRING = {
    "en": frozenset("it its it's they them their theirs this that these those he him his she her there such".split()),
    "fr": frozenset("il ils elle elles lui leur leurs y celui celle ceux celles cela ça son sa ses".split()),
}
# French object pronouns look like articles; they refer back right after a question word
# ("qui la coordonne", "comment l'utiliser") or as "en" before a verb ("en font partie").
_FRENCH_CLITIC = re.compile(
    r"\b(?:qui|que|qu|comment|pourquoi|quand|où|ou)\s+(?:la|le|les|l['’]|en|y)\s*\w|"
    r"\ben\s+(?!(?:le|la|les|l['’]|un|une|des|du|de|d['’])\b)[a-zéèêàâîôûç]+",
    re.IGNORECASE,
)
_SHORT = 3


def _words(question: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(question.replace("’", "'").replace("'", " "))]


def is_follow_up(question: str, language: str) -> bool:
    """True when `question` needs the conversation to be understood."""
    if entity_terms(question):
        return False
    words = _words(question)
    referring = _REFERRING.get(language, _REFERRING["en"] | _REFERRING["fr"])
    if len(words) <= _SHORT or any(w in referring for w in words):
        return True
    return language == "fr" and bool(_FRENCH_CLITIC.search(question))


CONTEXT_ANSWER_CHARS = 300


def contextual_query(question: str, language: str, previous: list[str]) -> str:
    """The text to search with: the question alone, or preceded by the previous turns
    (questions, and the start of the answers given to them)."""
    earlier = [p.strip()[:CONTEXT_ANSWER_CHARS] for p in previous if p and p.strip()]
    if earlier and is_follow_up(question, language):
        return " ".join([*earlier, question])
    return question
