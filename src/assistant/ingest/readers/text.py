"""Plain text and Markdown: the file's text exactly as decoded (offsets index the file), with
Markdown's structure (ATX and setext headings, fenced code, list items, table rows) as blocks."""

from __future__ import annotations

import re

from assistant.ingest.readers.base import Extracted, Unreadable
from assistant.types import Block

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```+|~~~+)")
_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_ROW = re.compile(r"^ {0,3}\|.*\|[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:[-*_][ \t]*){3,}$")
_TABLE_RULE = re.compile(r"^ {0,3}\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$")


def read_plain(data: bytes) -> Extracted:
    if b"\x00" in data:
        raise Unreadable("not UTF-8 text (binary or another encoding)")
    try:
        return Extracted(data.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text (binary or another encoding)") from None


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, without its line break."""
    spans, start = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        spans.append((start, start + len(body)))
        start += len(line)
    return spans


def markdown_blocks(text: str) -> list[Block]:
    """Blocks of a Markdown text, offsets into it; a heading's span is its title (without #)."""
    lines = _lines(text)
    blocks: list[Block] = []
    paragraph: list[tuple[int, int]] = []
    kind = "paragraph"

    def close() -> None:
        nonlocal paragraph, kind
        if paragraph:
            blocks.append(_trim(text, Block(kind, paragraph[0][0], paragraph[-1][1])))
        paragraph, kind = [], "paragraph"

    i = 0
    while i < len(lines):
        s, e = lines[i]
        line = text[s:e]
        if fence := _FENCE.match(line):
            close()
            j = i + 1
            while j < len(lines) and not text[lines[j][0] : lines[j][1]].lstrip().startswith(fence.group(1)):
                j += 1
            if j > i + 1:
                blocks.append(_trim(text, Block("code", lines[i + 1][0], lines[j - 1][1])))
            i = j + 1
            continue
        if heading := _ATX.match(line):
            close()
            if heading.group(2):
                blocks.append(Block("heading", s + heading.start(2), s + heading.end(2), len(heading.group(1))))
            i += 1
            continue
        if not line.strip() or (_RULE.match(line) and not paragraph) or (_TABLE_RULE.match(line) and "|" in line):
            close()
            i += 1
            continue
        if paragraph and (setext := _SETEXT.match(line)) and kind == "paragraph" and len(paragraph) == 1:
            blocks.append(_trim(text, Block("heading", paragraph[0][0], paragraph[0][1], 1 if "=" in setext[1] else 2)))
            paragraph = []
            i += 1
            continue
        if _ROW.match(line):
            close()
            # a row right above the |---| rule names the columns
            names = i + 1 < len(lines) and bool(_TABLE_RULE.match(text[lines[i + 1][0] : lines[i + 1][1]]))
            blocks.append(_trim(text, Block("header" if names else "row", s, e)))
            i += 1
            continue
        if _ITEM.match(line):
            close()
            kind = "item"
        paragraph.append((s, e))
        i += 1
    close()
    return [b for b in blocks if b.end > b.start]


def _trim(text: str, block: Block) -> Block:
    start, end = block.start, block.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Block(block.kind, start, end, block.level)


def read_markdown(data: bytes) -> Extracted:
    text = read_plain(data).text
    blocks = markdown_blocks(text)
    title = next((text[b.start : b.end] for b in blocks if b.kind == "heading"), None)
    return Extracted(text, title, blocks=tuple(blocks))
