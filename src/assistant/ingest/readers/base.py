"""What every reader returns, and the builder that lays blocks out as one text with exact offsets."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.types import Block

BLOCK_BREAK = "\n\n"  # between blocks (and pages) in the text readers build


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()  # offset in `text` where each page starts (PDF only)
    blocks: tuple[Block, ...] = ()  # structure; empty: plain text, split into paragraphs later
    visible_words: int | None = None  # words a reader of the file sees (HTML), to tell how much was kept


class Unreadable(Exception):
    """The file cannot be turned into text; the message says why."""


@dataclass
class TextBuilder:
    """Accumulates blocks into one text: blocks separated by a blank line, each recorded with
    its offsets, so that `text[block.start:block.end]` is exactly the block's text."""

    parts: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    length: int = 0

    def add(self, kind: str, text: str, level: int = 0, box: int = 0) -> Block | None:
        text = text.strip()
        if not text:
            return None
        if self.parts:
            self.parts.append(BLOCK_BREAK)
            self.length += len(BLOCK_BREAK)
        block = Block(kind, self.length, self.length + len(text), level, box)
        self.parts.append(text)
        self.length += len(text)
        self.blocks.append(block)
        return block

    def mark(self) -> int:
        """Offset where the next block will start."""
        return self.length + (len(BLOCK_BREAK) if self.parts else 0)

    def text(self) -> str:
        return "".join(self.parts)


def squash(text: str) -> str:
    """Runs of white space as one space (prose from markup, where line breaks mean nothing)."""
    return " ".join(text.split())
