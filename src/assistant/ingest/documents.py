"""corpus/ files -> Documents.

Every `.txt`, `.md`, `.html`, `.pdf` and `.docx` file under the corpus folder
(sub-folders included) is a document, read by the reader of its format (`readers/`).
Plain text is kept exactly as decoded from the file (CRLF and all), so that citation
offsets index the file's own text. Optional metadata lives beside the files
in `metadata.json`: `{"file name": {"id": ..., "title": ..., "language": ...}}`;
anything it does not give is derived (id from the path, title from the first
Markdown heading or the file name, language detected).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.ingest.readers import READERS, Unreadable
from assistant.text.language import UNDETERMINED, detect_language
from assistant.types import Document

log = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
MAX_FILE_BYTES = 50 * 1024 * 1024
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Skipped:
    """A file of the corpus that could not be used, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    documents: list[Document]
    skipped: list[Skipped]


def slugify(relative: str) -> str:
    stem = relative.rsplit(".", 1)[0].lower()
    return _SLUG.sub("-", stem).strip("-") or "document"


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip() or path.name


def _read_metadata(root: Path) -> dict[str, dict[str, str]]:
    path = root / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        log.warning("ignoring %s: expected an object keyed by file name", path)
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def load_corpus(root: Path, known_languages: dict[str, str] | None = None) -> Corpus:
    """Read every document under `root`; unusable files are listed in `skipped`, never raised.
    `known_languages` (file digest -> language) spares detecting unchanged documents again."""
    known_languages = known_languages or {}
    metadata = _read_metadata(root)
    documents: list[Document] = []
    skipped: list[Skipped] = []
    seen_ids: dict[str, str] = {}
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in READERS and p.is_file())
    inside = root.resolve()
    for path in files:
        relative = path.relative_to(root).as_posix()
        if not path.resolve().is_relative_to(inside):
            skipped.append(Skipped(relative, "a link to a file outside the corpus folder"))
            continue
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                skipped.append(Skipped(relative, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"))
                continue
            data = path.read_bytes()
        except OSError as exc:
            skipped.append(Skipped(relative, f"cannot be read: {exc.strerror or exc}"))
            continue
        try:
            extracted = READERS[path.suffix.lower()](data)
        except Unreadable as exc:
            skipped.append(Skipped(relative, str(exc)))
            continue
        except Exception as exc:  # a library choking on a bad file must not stop the build
            skipped.append(Skipped(relative, f"cannot be read ({type(exc).__name__}: {exc})"))
            continue
        text = extracted.text
        if not text.strip():
            skipped.append(Skipped(relative, "empty (no text could be extracted)"))
            continue
        meta = metadata.get(relative, {})
        doc_id = str(meta.get("id") or slugify(relative))
        if doc_id in seen_ids:
            skipped.append(Skipped(relative, f"its id {doc_id!r} is already used by {seen_ids[doc_id]}"))
            continue
        seen_ids[doc_id] = relative
        digest = hashlib.sha256(data).hexdigest()
        language = str(
            meta.get("language") or known_languages.get(digest) or detect_language(text, fallback=UNDETERMINED)
        )
        documents.append(
            Document(
                id=doc_id,
                title=str(meta.get("title") or extracted.title or _title_from_name(path)),
                language=language,
                source=relative,
                text=text,
                sha256=digest,
                pages=extracted.pages,
                blocks=extracted.blocks,
                visible_words=extracted.visible_words,
            )
        )
    for item in skipped:
        log.warning("skipped %s: %s", item.source, item.reason)
    return Corpus(documents, skipped)
