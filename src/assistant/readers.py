"""One reader per document format: file bytes -> text (and title, and page starts for PDF).

The text a reader returns is the document's text for citations: offsets index it, and
`GET /api/documents/{id}` serves it. Plain text is kept exactly as in the file; HTML
keeps its visible text (no scripts or styles) with a line per block; PDF keeps its
pages (separated by a blank line) and where each starts; DOCX keeps its paragraphs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()  # offset in `text` where each page starts (PDF only)


class Unreadable(Exception):
    """The file cannot be turned into text; the message says why."""


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
PAGE_BREAK = "\n\n"


def read_plain(data: bytes) -> Extracted:
    if b"\x00" in data:
        raise Unreadable("not UTF-8 text (binary or another encoding)")
    try:
        return Extracted(data.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text (binary or another encoding)") from None


def read_markdown(data: bytes) -> Extracted:
    text = read_plain(data).text
    heading = _HEADING.search(text)
    return Extracted(text, heading.group(1).strip() if heading else None)


class _Visible(HTMLParser):
    HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe", "object"})
    BLOCKS = frozenset(
        "p div section article header footer main aside nav li ul ol table tr td th h1 h2 h3 h4 h5 h6 "
        "blockquote pre br hr dd dt figcaption caption".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.title: list[str] = []
        self.h1: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        current = self._in[-1] if self._in else ""
        if current == "title":
            self.title.append(data)
        elif self.hidden == 0:
            if current == "h1":
                self.h1.append(data)
            self.parts.append(data)


def read_html(data: bytes) -> Extracted:
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        source = data.decode("latin-1")
    parser = _Visible()
    parser.feed(source)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title).split()) or " ".join("".join(parser.h1).split()) or None
    return Extracted(text, title)


def read_pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta = reader.metadata
        title = (meta.title or "").strip() if meta else ""
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise Unreadable(f"not a readable PDF ({exc})") from None
    starts, parts, offset = [], [], 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + len(PAGE_BREAK)
    return Extracted(PAGE_BREAK.join(parts), title or None, tuple(starts))


def read_docx(data: bytes) -> Extracted:
    import zipfile

    from docx import Document as Docx

    try:
        doc = Docx(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Unreadable(f"not a readable DOCX ({exc})") from None
    paragraphs = [p for p in doc.paragraphs if p.text.strip()]
    title = (doc.core_properties.title or "").strip()
    if not title:
        for p in paragraphs:
            if p.style is not None and (p.style.name or "").startswith(("Title", "Heading")):
                title = p.text.strip()
                break
    return Extracted("\n\n".join(p.text.strip() for p in paragraphs), title or None)


READERS: dict[str, Callable[[bytes], Extracted]] = {
    ".txt": read_plain,
    ".md": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}
