"""Document blocks -> sentence units -> passages within sections, with exact character offsets.

Pure functions. Every span keeps `start`/`end` into the document text so that
`text[start:end]` is exactly the quoted passage or sentence. A block becomes sentence
units (prose is split into sentences; a heading, a table row, a line of code is one unit
each); passages are built from whole units of one section (a few, roughly `min_words` to
`max_words` words), prefer to break where a paragraph starts, so a heading travels with
the paragraph it introduces, and record their heading path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.types import Block, Passage, Sentence

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_LINE = re.compile(r"[^\n]*(?:\n|$)")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s)|[.!?…]+[\"'»”’)\]]*$")
_LIST_ITEM = re.compile(r"\s*(?:[-*•–—]\s|\d{1,3}[.)]\s)")
_ABBREVIATIONS = frozenset(
    "m mm mme mmes mlle dr pr mr mrs ms st ste etc cf vs p pp no n° art fig vol ed ex "
    "e.g i.e av apr j.-c inc ltd co corp jr sr".split()
)
_HEADING_MAX_WORDS = 12
LABEL_MAX_WORDS = 2  # boilerplate this short right under a heading is stepped over (its text stays in the passage)
_WORD = re.compile(r"\S+")


SECTION_SEPARATOR = " › "
# How documents become units and passages; raised when that changes, so that an index built
# before is re-chunked by the next build. 2: table rows know their header row; a label
# between a heading and its text no longer leaves the heading alone. 3: a PDF's outline
# titles starting with a short word ("Le …") find their numbered headings. 4: content boxes
# (notes, tips, sidebars) are sections of their own, titled.
STRUCTURE_VERSION = 4


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    opens_paragraph: bool
    kind: str = "sentence"


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


def _split_range(text: str, start: int, end: int) -> list[Span]:
    """Sentences of one paragraph (a heading, a list item or a paragraph each open a new unit)."""
    spans: list[Span] = []
    for g_start, g_end in _line_groups(text, start, end):
        spans.extend(_split_line_group(text, g_start, g_end, opens=True))
    return spans


def paragraph_blocks(text: str) -> list[Block]:
    """Plain text's blocks: its paragraphs (separated by blank lines)."""
    blocks, para_start = [], 0
    breaks = [(m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(text)] + [(len(text), len(text))]
    for b_start, b_end in breaks:
        if b_start > para_start:
            blocks.append(Block("paragraph", para_start, b_start))
        para_start = b_end
    return blocks


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of plain `text` (trimmed of surrounding whitespace), in order."""
    return [s for b in paragraph_blocks(text) for s in _split_range(text, b.start, b.end)]


def _block_units(text: str, block: Block) -> list[Span]:
    """The sentence units of a block: a heading is one, a table row one, a line of code one,
    prose is split into sentences (kind "item" inside a list item)."""
    if block.kind in ("heading", "title"):  # a box's title names what follows, as a heading does
        return [Span(block.start, block.end, True, "heading")]
    if block.kind in ("row", "header"):
        return [Span(block.start, block.end, True, block.kind)]
    if block.kind == "code":
        units: list[Span] = []
        for m in _LINE.finditer(text, block.start, block.end):
            s, e = _trimmed(text, m.start(), m.end())
            if s < e:
                units.append(Span(s, e, not units, "code"))
        return units
    units = _split_range(text, block.start, block.end)
    if block.kind == "item":  # a list item's sentences: what an announcing sentence lists
        return [Span(u.start, u.end, u.opens_paragraph, "item") for u in units]
    return units


def section_paths(text: str, blocks: list[Block] | tuple[Block, ...]) -> list[str | None]:
    """The heading path of every block ("3. Boot › 3.2. Systemd"), None before any heading; a
    block in a titled box adds the box's title ("3. Boot › 3.2. Systemd › Tip")."""
    stack: list[tuple[int, str]] = []
    box_titles: dict[int, str] = {}
    paths: list[str | None] = []
    for block in blocks:
        if block.kind == "heading" and not block.box:
            level = block.level or 1
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, " ".join(text[block.start : block.end].split())))
        elif block.kind == "title" and block.box:
            box_titles.setdefault(block.box, " ".join(text[block.start : block.end].split()))
        titles = [title for _, title in stack]
        if block.box in box_titles:
            titles.append(box_titles[block.box])
        paths.append(SECTION_SEPARATOR.join(titles) if titles else None)
    return paths


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
        pieces.append(Span(chunk[0][0], chunk[-1][1], span.opens_paragraph and i == 0, span.kind))
    return pieces


def chunk_document(
    doc_id: str,
    text: str,
    language: str,
    min_words: int = 60,
    max_words: int = 200,
    overlap_sentences: int = 0,
    blocks: list[Block] | tuple[Block, ...] = (),
    skip: frozenset[int] = frozenset(),
) -> list[Passage]:
    """Passages of whole sentences, about `min_words`..`max_words` words each, within sections.

    `blocks` is the document's structure (plain text: its paragraphs); the blocks whose
    indexes are in `skip` (boilerplate) are left out, and no passage spans one. A passage
    never crosses a heading: each section (a heading and what follows it up to the next
    heading) is chunked on its own, and a section that is only a heading opens the next
    one. Each passage records its heading path.
    A passage never exceeds `max_words` words (a longer sentence is cut at word boundaries).
    When a passage must end, it ends before the last paragraph start that leaves it at least
    `min_words` words. `overlap_sentences` sentences of a passage are repeated at the start of
    the next one.
    """
    structured = bool(blocks)  # the reader knows the headings; plain text's are guessed
    blocks = list(blocks) or paragraph_blocks(text)
    paths = section_paths(text, blocks)
    sections: list[tuple[str | None, list[Span]]] = []
    stepped = True  # boilerplate (or the start) lies between the current run and the next block
    box = 0  # the content box of the run: entering or leaving a box starts a section, as a heading does
    header: tuple[int, int] | None = None  # the header row of the table being read
    headers: dict[int, tuple[int, int]] = {}  # a row unit's start -> its table's header row
    for i, block in enumerate(blocks):
        if i in skip:
            # a passage is one span of text: it cannot step over boilerplate, except a label of
            # a word or two ("Note", "Astuce") right under a heading, which would else leave the
            # heading alone as a passage (docs/quality.md, "Stepping over every short label")
            lone_heading = bool(sections) and not stepped and all(u.kind == "heading" for u in sections[-1][1])
            if not lone_heading or _word_count(text, block.start, block.end) > LABEL_MAX_WORDS:
                stepped = True
            continue
        units = [piece for unit in _block_units(text, block) for piece in _split_long(text, unit, max_words)]
        if block.kind == "header":
            header = (block.start, block.end)
        elif block.kind != "row":
            header = None
        elif header is not None:
            headers.update((u.start, header) for u in units)
        if not units:
            continue
        if block.kind == "heading" or stepped or block.box != box:
            if not stepped and sections and all(u.kind == "heading" for u in sections[-1][1]):
                sections[-1] = (paths[i], sections[-1][1] + units)  # a heading with nothing under it
            else:
                sections.append((paths[i], units))
            stepped = False
        else:
            sections[-1][1].extend(units)
        box = block.box
    passages: list[Passage] = []
    for section, units in sections:
        for group in _pack(text, units, min_words, max_words, overlap_sentences, guess_headings=not structured):
            start, end = group[0].start, group[-1].end
            passages.append(
                Passage(
                    doc_id=doc_id,
                    ordinal=len(passages),
                    start=start,
                    end=end,
                    text=text[start:end],
                    language=language,
                    sentences=tuple(Sentence(s.start, s.end, s.kind, headers.get(s.start)) for s in group),
                    section=section,
                )
            )
    return passages


def _pack(
    text: str, sentences: list[Span], min_words: int, max_words: int, overlap: int, guess_headings: bool
) -> list[list[Span]]:
    """Consecutive sentences grouped into passages of at most `max_words` words. With
    `guess_headings`, a short line without final punctuation before a paragraph counts as one."""
    counts = [_word_count(text, s.start, s.end) for s in sentences]
    headings = [
        s.kind == "heading"
        or (
            guess_headings
            and s.kind == "sentence"
            and s.opens_paragraph
            and counts[k] <= _HEADING_MAX_WORDS
            and text[s.end - 1] not in ".!?…:;,"
            and k + 1 < len(sentences)
            and sentences[k + 1].opens_paragraph
        )
        for k, s in enumerate(sentences)
    ]
    groups: list[list[Span]] = []
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
        groups.append(
            [
                Span(s.start, s.end, s.opens_paragraph, "heading" if headings[i + n] else s.kind)
                for n, s in enumerate(sentences[i:j])
            ]
        )
        if j >= len(sentences):
            break
        i = max(j - overlap, i + 1)
    return groups
