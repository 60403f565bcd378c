"""DOCX: its paragraphs, with Word's heading styles as headings and list styles as items."""

from __future__ import annotations

import io
import re

from assistant.ingest.readers.base import Extracted, TextBuilder, Unreadable

_HEADING_STYLE = re.compile(r"^(?:Heading|Titre)\s*(\d)", re.IGNORECASE)


def read_docx(data: bytes) -> Extracted:
    import zipfile

    from docx import Document as Docx

    try:
        doc = Docx(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Unreadable(f"not a readable DOCX ({exc})") from None
    builder = TextBuilder()
    title = (doc.core_properties.title or "").strip()
    for p in doc.paragraphs:
        style = (p.style.name or "") if p.style is not None else ""
        level = _HEADING_STYLE.match(style)
        if style.startswith("Title"):
            block = builder.add("heading", p.text, 1)
        elif level:
            block = builder.add("heading", p.text, int(level.group(1)))
        else:
            block = builder.add("item" if "List" in style else "paragraph", p.text)
        if block is not None and not title and block.kind == "heading":
            title = p.text.strip()
    return Extracted(builder.text(), title or None, blocks=tuple(builder.blocks))
