"""One reader per document format: file bytes -> text, typed blocks, title (and page starts for PDF).

The text a reader returns is the document's text for citations: offsets index it, and
`GET /api/documents/{id}` serves it. Each reader also returns the document's structure as
typed blocks with offsets into that text (headings with their level, paragraphs, list
items, table rows, code), which chunking, section paths and boilerplate removal work on.
Plain text is kept exactly as in the file; HTML keeps its visible text, a block per
paragraph; PDF its pages; DOCX its paragraphs.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.ingest.readers.base import Extracted, Unreadable
from assistant.ingest.readers.docx import read_docx
from assistant.ingest.readers.html import read_html
from assistant.ingest.readers.pdf import read_pdf
from assistant.ingest.readers.text import read_markdown, read_plain

READERS: dict[str, Callable[[bytes], Extracted]] = {
    ".txt": read_plain,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".xhtml": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}

__all__ = ["READERS", "Extracted", "Unreadable"]
