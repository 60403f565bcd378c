"""A question analysed once: keyword search, the choice of the answer sentence and abstention all
read this one value instead of analysing the question again."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from assistant.text.analysis import analyse, entity_terms, fold, name_key, shared_stems, words


@dataclass(frozen=True)
class AnalysedQuestion:
    """The question's text and language, its terms analysed in that language, its names (which
    match in any language), and the stems it shares with the other language's spelling."""

    text: str
    language: str
    terms: tuple[str, ...]
    names: tuple[str, ...]
    stems: frozenset[str]

    @classmethod
    def of(cls, text: str, language: str) -> AnalysedQuestion:
        return cls(text, language, tuple(analyse(text, language)), entity_terms(text), frozenset(shared_stems(text)))

    @property
    def name_keys(self) -> list[str]:
        """The names as keyword-index keys."""
        return [name_key(n) for n in self.names]

    @cached_property
    def words(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        """Each word of the question, in order: as written, folded, and analysed in its language
        (what `LexicalIndex.shared_terms` reports a passage shares)."""
        return tuple((w, fold(w), tuple(analyse(w, self.language))) for w in words(self.text))
