"""Boilerplate: blocks that belong to the site or the layout, not to the document.

Recognised by repetition rather than by a list of phrases, plus tables of contents:
- across documents: a block whose text (white space and case aside) is found in
  at least `MIN_DOCUMENTS` documents and `SHARE` of the corpus — navigation bars,
  "Download the ebook / Prev / Next", copyright lines, the "Tip"/"Note" labels of a
  theme. Headings are kept: they give the sections their names; so are the header rows of
  tables ("package | popcon | size"): they give the columns theirs;
- within a paged document (PDF): a block at the top or bottom of a page that repeats
  (digits aside) at the edge of `MIN_PAGES` or more pages — running headers and footers ("Référence Debian
  13 / 237"), page numbers, repeated chapter titles;
- a line of a table of contents, with its dot leaders and page number
  ("3.2 Systemd init . . . . . . . 82"): the contents point at the text, they are not it.

Boilerplate blocks are simply not covered by passages: the document's text and every
offset stay exactly as they are. The decision is made over the whole corpus at every
build (every file is read anyway to compare hashes); when it changes for a document,
only the passages whose text changed are embedded again.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from assistant.types import Document

MIN_DOCUMENTS = 3
SHARE = 0.2
MIN_PAGES = 3
_NAMES = ("heading", "header")  # blocks that name what follows: kept however often they repeat
EDGE_BLOCKS = 2  # blocks at the top and at the bottom of a page that may be running headers
_NUMBERS = re.compile(r"\d+|\b[ivxlcdm]{1,7}\b")  # page numbers, arabic or roman ("xiv")
_LEADERS = re.compile(r"(?:\.\s?){5,}\s*(?:\d+|[ivxlcdm]+)\b")  # "Introduction . . . . . . 12"


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _page_key(text: str) -> str:
    """A running header's text, page numbers aside ("Référence Debian 13 / 237")."""
    return _NUMBERS.sub("0", _key(text))


def find_boilerplate(documents: list[Document]) -> dict[str, frozenset[int]]:
    """For each document id, the indexes of its blocks that are boilerplate."""
    found: dict[str, set[int]] = defaultdict(set)
    seen_in: Counter[str] = Counter()
    keys: dict[str, list[str]] = {}
    for doc in documents:
        keys[doc.id] = [_key(doc.text[b.start : b.end]) for b in doc.blocks]
        seen_in.update(set(keys[doc.id]))
    needed = max(MIN_DOCUMENTS, math.ceil(SHARE * len(documents)))
    for doc in documents:
        for i, (block, key) in enumerate(zip(doc.blocks, keys[doc.id], strict=True)):
            if (block.kind not in _NAMES and seen_in[key] >= needed) or _LEADERS.search(key):
                found[doc.id].add(i)
        if len(doc.pages) >= MIN_PAGES:
            found[doc.id] |= _running_lines(doc)
    return {doc_id: frozenset(ids) for doc_id, ids in found.items()}


_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Kept:
    """How much of a document's visible text its passages keep, in words."""

    visible: int
    kept: int

    @property
    def share(self) -> float:
        return self.kept / self.visible if self.visible else 1.0


def kept_below(kept: dict[str, Kept], share: float) -> list[tuple[str, Kept]]:
    """Documents that keep less than `share` of their visible text, the worst first."""
    return sorted(((s, k) for s, k in kept.items() if k.share < share), key=lambda item: (item[1].share, item[0]))


def kept_from_manifest(recorded: dict[str, list[int]]) -> dict[str, Kept]:
    """The manifest's `kept` ({source: [visible, kept]}) as values; empty for indexes built before it."""
    return {source: Kept(int(visible), int(words)) for source, (visible, words) in recorded.items()}


def kept_text(documents: list[Document], skip: dict[str, frozenset[int]]) -> dict[str, Kept]:
    """For each document's source: its visible words (what the reader saw; the extracted text for
    formats without a notion of visible) and the words of the blocks that are not boilerplate."""
    shares = {}
    for doc in documents:
        left_out = skip.get(doc.id, frozenset())
        if doc.blocks:
            kept = sum(
                len(_WORDS.findall(doc.text, b.start, b.end)) for i, b in enumerate(doc.blocks) if i not in left_out
            )
        else:
            kept = len(_WORDS.findall(doc.text))
        visible = doc.visible_words if doc.visible_words is not None else len(_WORDS.findall(doc.text))
        shares[doc.source] = Kept(visible, min(kept, visible) if visible else kept)
    return shares


def _running_lines(doc: Document) -> set[int]:
    """Blocks at page edges whose text (page numbers aside) recurs at the edges of several pages."""
    keys = [_page_key(doc.text[b.start : b.end]) for b in doc.blocks]
    by_page: dict[int, list[int]] = defaultdict(list)
    for i, block in enumerate(doc.blocks):
        by_page[doc.page_at(block.start) or 0].append(i)
    edges: dict[str, list[int]] = defaultdict(list)
    for ids in by_page.values():
        for i in dict.fromkeys(ids[:EDGE_BLOCKS] + ids[-EDGE_BLOCKS:]):
            edges[keys[i]].append(i)
    pages_with = {key: len({doc.page_at(doc.blocks[i].start) for i in ids}) for key, ids in edges.items()}
    return {i for key, ids in edges.items() if pages_with[key] >= MIN_PAGES for i in ids}
