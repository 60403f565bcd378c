"""Plain values that flow through the pipeline: documents -> passages -> hits -> answers."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

# header: a table's row of column names; title: the title of a content box (a note, tip, warning, sidebar)
BLOCK_KINDS = ("heading", "paragraph", "item", "row", "header", "code", "title")


@dataclass(frozen=True)
class Block:
    """A structural unit of a document's text: `text[start:end]`, of a kind in BLOCK_KINDS
    (a heading has its `level`, 1 the highest). `box` numbers the content box (admonition,
    sidebar, call-out) the block sits in, from 1 in document order; 0 outside any box."""

    kind: str
    start: int
    end: int
    level: int = 0
    box: int = 0


@dataclass(frozen=True)
class Document:
    """A source document: its exact text and what the citations say about it."""

    id: str
    title: str
    language: str
    source: str  # path relative to the corpus folder
    text: str
    sha256: str
    pages: tuple[int, ...] = ()  # offset where each page starts (PDF); empty for other formats
    blocks: tuple[Block, ...] = ()  # structure from the reader (not stored in the index)
    visible_words: int | None = None  # words a reader of the file sees (HTML); None: those of `text`

    def page_at(self, offset: int) -> int | None:
        """1-based page number of the character at `offset`, for paged documents."""
        if not self.pages:
            return None
        return bisect.bisect_right(self.pages, offset)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage, with offsets into its document."""

    start: int
    end: int
    kind: str = "sentence"  # or "heading", "code" (a line of code), "row" (a table row), "item" (in a list item),
    # "header" (a table's row of column names)
    header: tuple[int, int] | None = None  # a row's: offsets of its table's header row, when known

    def record(self) -> list[int | str]:
        """The sentence as stored in an index: [start, end], with its kind when not a plain
        sentence, and a row's header offsets."""
        if self.header is not None:
            return [self.start, self.end, self.kind, *self.header]
        return [self.start, self.end] if self.kind == "sentence" else [self.start, self.end, self.kind]

    @classmethod
    def from_record(cls, record: list[Any]) -> Sentence:
        start, end, *rest = record
        header = (int(rest[1]), int(rest[2])) if len(rest) == 3 else None
        return cls(int(start), int(end), str(rest[0]) if rest else "sentence", header)


@dataclass(frozen=True)
class Passage:
    """A span of a document: `document.text[start:end] == text`."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    language: str
    sentences: tuple[Sentence, ...] = ()
    section: str | None = None  # heading path, "3. Boot › 3.2. Systemd"; None without headings


@dataclass(frozen=True)
class Hit:
    """A retrieved passage (row `row` of the index), its fused score and the evidence behind it."""

    passage: Passage
    score: float
    row: int
    similarity: float = 0.0  # cosine between question and passage
    sentence_similarity: float = 0.0  # best cosine between question and one of the passage's sentences
    lexical: float = 0.0  # BM25, relative to the best passage for this question (0..1)
    terms: tuple[str, ...] = ()  # question terms found in the passage
    shift: float = 0.0  # added for the passage's language (see search.language_shifts)


@dataclass(frozen=True)
class Citation:
    """A passage quoted in an answer."""

    rank: int
    document_id: str
    title: str
    source: str
    language: str
    text: str
    start: int
    end: int
    score: float
    similarity: float = 0.0
    matched_terms: tuple[str, ...] = ()
    page: int | None = None
    section: str | None = None


@dataclass(frozen=True)
class AnswerSpan:
    """The sentence that best answers the question, inside citation `citation`."""

    text: str
    citation: int
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """What the assistant says to a question."""

    question: str
    language: str
    answer: AnswerSpan | None
    abstained: bool
    message: str
    citations: list[Citation] = field(default_factory=list)
    confidence: float = 0.0
    index_version: str = ""
    took_ms: float = 0.0
