"""Document text -> sentences -> passages, with exact character offsets.

Pure functions. Every span keeps `start`/`end` into the document text so that
`text[start:end]` is exactly the quoted passage or sentence. Passages are built from
whole sentences (a few, roughly `min_words` to `max_words` words) and prefer to break
where a paragraph starts, so a heading travels with the paragraph it introduces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.types import Passage, Sentence

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_LINE = re.compile(r"[^\n]*(?:\n|$)")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s)|[.!?…]+[\"'»”’)\]]*$")
_LIST_ITEM = re.compile(r"\s*(?:[-*•–—]\s|\d{1,3}[.)]\s)")
_ABBREVIATIONS = frozenset(
    "m mm mme mmes mlle dr pr mr mrs ms st ste etc cf vs p pp no n° art fig vol ed ex "
    "e.g i.e av apr j.-c inc ltd co corp jr sr".split()
)
_HEADING_MAX_WORDS = 12
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    opens_paragraph: bool


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial, not a sentence."""
    if text[dot] != ".":
        return False
    i = dot
    while i > 0 and not text[i - 1].isspace() and text[i - 1] not in '(«"“':
        i -= 1
    word = text[i:dot].lower()
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. Dupont"
    return word in _ABBREVIATIONS


def _split_line_group(text: str, start: int, end: int, opens: bool) -> list[Span]:
    """Split one run of text (no line-level boundary inside) into sentences."""
    spans: list[Span] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if _is_abbreviation(text, match.start()):
            continue
        nxt = match.end()
        while nxt < end and text[nxt].isspace():
            nxt += 1
        if nxt < end and text[nxt].islower():
            continue  # "... 3.5 millions" or "etc. et" : not a sentence start
        s, e = _trimmed(text, cursor, match.end())
        if s < e:
            spans.append(Span(s, e, opens and not spans))
        cursor = match.end()
    s, e = _trimmed(text, cursor, end)
    if s < e:
        spans.append(Span(s, e, opens and not spans))
    return spans


def _line_groups(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a paragraph into groups of lines; a line ends a group when it looks like
    a heading, ends a sentence, or the next line is a list item."""
    lines = [(m.start(), m.end()) for m in _LINE.finditer(text, start, end) if m.end() > m.start()]
    groups: list[tuple[int, int]] = []
    group_start = start
    for i, (ls, le) in enumerate(lines):
        content = text[ls:le].strip()
        is_last = i == len(lines) - 1
        if is_last:
            break
        next_line = text[lines[i + 1][0] : lines[i + 1][1]]
        heading_like = (
            bool(content) and len(content.split()) <= _HEADING_MAX_WORDS and not content.endswith((",", ";", ":"))
        )
        ends_sentence = bool(_SENTENCE_END.search(content + " ")) and content[-1:] in ".!?…\"'»”’)]"
        if heading_like or ends_sentence or _LIST_ITEM.match(next_line):
            groups.append((group_start, le))
            group_start = le
    groups.append((group_start, end))
    return groups


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text` (trimmed of surrounding whitespace), in order."""
    spans: list[Span] = []
    para_start = 0
    breaks = [(m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(text)] + [(len(text), len(text))]
    for b_start, b_end in breaks:
        # a heading, a list item or a paragraph each open a new unit
        for g_start, g_end in _line_groups(text, para_start, b_start):
            spans.extend(_split_line_group(text, g_start, g_end, opens=True))
        para_start = b_end
    return spans


def _word_count(text: str, start: int, end: int) -> int:
    return sum(1 for _ in _WORD.finditer(text, start, end))


def _split_long(text: str, span: Span, max_words: int) -> list[Span]:
    """Cut a sentence longer than `max_words` at word boundaries."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, span.start, span.end)]
    if len(words) <= max_words:
        return [span]
    pieces = []
    for i in range(0, len(words), max_words):
        chunk = words[i : i + max_words]
        pieces.append(Span(chunk[0][0], chunk[-1][1], span.opens_paragraph and i == 0))
    return pieces


def chunk_document(
    doc_id: str,
    text: str,
    language: str,
    min_words: int = 60,
    max_words: int = 200,
    overlap_sentences: int = 0,
) -> list[Passage]:
    """Passages of whole sentences, about `min_words`..`max_words` words each.

    A passage never exceeds `max_words` words (a longer sentence is cut at word
    boundaries). When a passage must end, it ends before the last paragraph start
    that leaves it at least `min_words` words. `overlap_sentences` sentences of a
    passage are repeated at the start of the next one.
    """
    sentences: list[Span] = []
    for span in split_sentences(text):
        sentences.extend(_split_long(text, span, max_words))
    counts = [_word_count(text, s.start, s.end) for s in sentences]
    headings = [
        s.opens_paragraph
        and counts[k] <= _HEADING_MAX_WORDS
        and text[s.end - 1] not in ".!?…:;,"
        and k + 1 < len(sentences)
        and sentences[k + 1].opens_paragraph
        for k, s in enumerate(sentences)
    ]
    passages: list[Passage] = []
    i = 0
    while i < len(sentences):
        j = i
        words = 0
        while j < len(sentences) and (j == i or words + counts[j] <= max_words):
            words += counts[j]
            j += 1
        if j < len(sentences):
            # prefer to end where a paragraph starts, if the passage stays long enough
            before = 0
            best_cut = None
            for k in range(i, j):
                # never leave a heading at the end of a passage, away from its paragraph
                if k > i and sentences[k].opens_paragraph and not headings[k - 1] and before >= min_words:
                    best_cut = k
                before += counts[k]
            if best_cut is not None:
                j = best_cut
        group = sentences[i:j]
        start, end = group[0].start, group[-1].end
        passages.append(
            Passage(
                doc_id=doc_id,
                ordinal=len(passages),
                start=start,
                end=end,
                text=text[start:end],
                language=language,
                sentences=tuple(Sentence(s.start, s.end) for s in group),
            )
        )
        if j >= len(sentences):
            break
        i = max(j - overlap_sentences, i + 1)
    return passages
