"""PDF: the text of every page through PDFium (pypdfium2), with normal word spacing, lines joined
into paragraphs, line-end hyphens removed, and the outline (bookmarks) as headings.

pypdf glues the words of LaTeX PDFs together ("Ilexistedeuxméthodes"); PDFium places the
spaces from the glyph positions and reads a 265-page book in about a second on 2 cores
(pdfminer.six is as correct but about 2.7 s a page). Pages are separated by a blank line;
`pages` records where each starts. Running headers and footers are left to
`boilerplate.py`, which recognises lines repeated at the top or bottom of many pages.
"""

from __future__ import annotations

import re
import statistics

from assistant.ingest.readers.base import Extracted, TextBuilder, Unreadable, squash

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# PDFium marks a hyphen it found at a line end with U+FFFE (or U+0002): the word continues
_MARKED_HYPHEN = re.compile(r"[\ufffe\x02](?:\r\n|\r|\n)?")
_SOFT_HYPHENS = ("\x02", "\xad")
_LIST_MARK = re.compile(r"^(?:[-–—•▪◦*]|\d{1,3}[.)])\s")
_CODE = re.compile(r"^[$#>] \S")
# A heading's number: "6.2 ", "Chapitre 3. ", "Annexe A ", "A.1 ", "IV. ". A bare word of a few
# letters is not one: "Le système de courrier électronique" (an outline title without its
# number) must keep its "Le" to match the page's "6.2 Le système de courrier électronique".
_NUMBERING = re.compile(
    r"^(?:(?:chapitre|chapter|annexe|appendix|partie|part|section)\s+[\dA-Z]{1,3}(?:\.\d+)*\.?"
    r"|\d{1,3}(?:\.\d+)*\.?|[A-Z](?:\.\d+)+\.?|[IVX]{1,4}\.)\s+",
    re.I,
)
_SHORT_LINE = 0.8  # a line this much shorter than the page's full lines ends its paragraph


def _key(text: str) -> str:
    return squash(_NUMBERING.sub("", squash(text))).casefold()


def _outline(pdf: object) -> dict[int, list[tuple[int, str]]]:
    """Bookmarks by page index: (level from 1, title)."""
    headings: dict[int, list[tuple[int, str]]] = {}
    try:
        for item in pdf.get_toc():  # type: ignore[attr-defined]
            dest = item.get_dest()
            index = dest.get_index() if dest is not None else None
            title = squash(item.get_title() or "")
            if index is not None and title:
                headings.setdefault(index, []).append((item.level + 1, title))
    except Exception:  # a damaged outline only costs the headings
        return {}
    return headings


def _join(previous: str, line: str) -> str:
    """`previous` + `line` as prose: a line-end hyphen before a lower-case letter is removed."""
    if previous.endswith(_SOFT_HYPHENS):
        return previous[:-1] + line
    if previous.endswith("-") and len(previous) > 1 and previous[-2].isalpha() and line[:1].islower():
        return previous[:-1] + line
    return previous + " " + line


def _page_blocks(builder: TextBuilder, text: str, outline: list[tuple[int, str]]) -> None:
    lines = [line.strip() for line in _LINE_BREAK.split(_MARKED_HYPHEN.sub("", text))]
    lines = [line for line in lines if line]
    if not lines:
        return
    full = statistics.quantiles([len(x) for x in lines], n=10)[-1] if len(lines) >= 4 else max(map(len, lines))
    titles = {_key(title): level for level, title in outline}
    paragraph = ""
    for i, line in enumerate(lines):
        level = titles.get(_key(line))
        if level is not None:
            builder.add("paragraph", paragraph)
            paragraph = ""
            builder.add("heading", line, level)
            continue
        starts_item = bool(_LIST_MARK.match(line))
        if _CODE.match(line) and len(line) < _SHORT_LINE * full:
            builder.add("paragraph", paragraph)
            paragraph = ""
            builder.add("code", line)
            continue
        if paragraph and starts_item:
            builder.add("paragraph", paragraph)
            paragraph = ""
        paragraph = _join(paragraph, line) if paragraph else line
        ends = len(line) < _SHORT_LINE * full and not line.endswith(("-", *_SOFT_HYPHENS))
        if ends or i == len(lines) - 1:
            builder.add("item" if _LIST_MARK.match(paragraph) else "paragraph", paragraph)
            paragraph = ""


def read_pdf(data: bytes) -> Extracted:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except (pdfium.PdfiumError, ValueError, OSError) as exc:
        raise Unreadable(f"not a readable PDF ({exc})") from None
    try:
        try:
            title = squash(pdf.get_metadata_dict().get("Title", "") or "")
        except Exception:
            title = ""
        outline = _outline(pdf)
        builder = TextBuilder()
        starts = []
        for index in range(len(pdf)):
            starts.append(builder.mark())
            page = pdf[index]
            textpage = page.get_textpage()
            try:
                _page_blocks(builder, textpage.get_text_range(), outline.get(index, []))
            finally:
                textpage.close()
                page.close()
    except pdfium.PdfiumError as exc:
        raise Unreadable(f"not a readable PDF ({exc})") from None
    finally:
        pdf.close()
    if not title:
        title = next((builder.text()[b.start : b.end] for b in builder.blocks if b.kind == "heading"), "")
    return Extracted(builder.text(), title or None, tuple(starts), tuple(builder.blocks))
