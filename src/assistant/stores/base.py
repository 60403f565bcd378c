"""The store contract: what every store keeps of an index version and how a loaded version looks.

A version is a whole index (vectors, passages, documents, sentence vectors, keyword index)
and a manifest that checks itself; a store switches versions atomically and lets one build
run at a time. `files.FileStore` keeps versions in a folder, `postgres.PostgresStore` in a
database; the checks below are shared so that both refuse the same damaged versions.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from assistant.errors import IndexMismatch
from assistant.text.keywords import LexicalIndex
from assistant.types import Document, Passage, Sentence

FORMAT_VERSION = 4  # 3: the manifest carries a digest of itself; 4: sections, sentence kinds, structure-aware passages
VERSION_NAME = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")  # UTC time of the build and a random suffix
KEEP_VERSIONS = 2


@dataclass
class StoredIndex:
    """A loaded index version: everything a question needs, read-only."""

    path: Path | str  # the version's folder, or the database it comes from
    manifest: dict[str, Any]
    vectors: Any  # faiss.Index, or pgstore.PgVectors (same calling conventions)
    passages: list[Passage]
    documents: dict[str, Document]
    sentence_vectors: np.ndarray
    sentence_rows: list[int]  # first row in sentence_vectors of each passage's sentences
    lexical: LexicalIndex

    @property
    def passage_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(self.documents, 0)
        for p in self.passages:
            counts[p.doc_id] += 1
        return counts

    @property
    def version(self) -> str:
        return str(self.manifest["index_version"])

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Rows and inner products of the `k` nearest passages to the unit vector `query`."""
        k = min(k, len(self.passages))
        if k <= 0:
            return []
        # One question at a time gains nothing from FAISS's OpenMP threads, and their spinning
        # after each search took the model's cycles (5 ms of a 15 ms answer). The setting is
        # per thread (OpenMP's), so this request thread's searches use one and builds keep theirs.
        faiss.omp_set_num_threads(1)
        scores, ids = self.vectors.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def passage_vector(self, row: int) -> np.ndarray:
        return np.asarray(self.vectors.reconstruct(row), dtype=np.float32)

    def passage_vectors(self, rows: list[int]) -> np.ndarray:
        """Vectors of several passages at once (one round trip for a database store)."""
        if not rows:
            return np.zeros((0, int(self.vectors.d)), dtype=np.float32)
        return np.asarray(self.vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64)), dtype=np.float32)

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        first = self.sentence_rows[row]
        return np.asarray(self.sentence_vectors[first : first + len(self.passages[row].sentences)])


def version_name() -> str:
    """A new version's name: the UTC time of the build and a random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)


def manifest_digest(manifest: dict[str, Any]) -> str:
    """Digest of the manifest's content (all but this digest): the manifest checks itself as
    it checks every other file, so no altered byte of a version goes unnoticed."""
    content = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class NewVersion:
    """What a build hands a store to save: the rows of a version, and its manifest."""

    passages: list[Passage]
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    lexical: LexicalIndex
    documents: list[Document]
    manifest: dict[str, Any]

    def sentence_count(self) -> int:
        """The number of sentences, once the rows are checked to match one for one."""
        n_sentences = sum(len(p.sentences) for p in self.passages)
        if self.vectors.shape[0] != len(self.passages) or self.sentence_vectors.shape[0] != n_sentences:
            raise ValueError("vector counts do not match the passages")
        if self.lexical.weights.shape[0] != len(self.passages):
            raise ValueError("the keyword index does not match the passages")
        return n_sentences


def complete_manifest(
    manifest: dict[str, Any], version: str, passages: int, documents: int, sentences: int, **more: Any
) -> dict[str, Any]:
    """The build's manifest with what every store records of a version, and its own digest."""
    full = dict(manifest)
    full.update(
        format_version=FORMAT_VERSION,
        index_version=version,
        passage_count=passages,
        document_count=documents,
        sentence_count=sentences,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **more,
    )
    full["manifest_sha256"] = manifest_digest(full)
    return full


class Store(Protocol):
    """Where index versions live: files in a folder (`FileStore`, the default) or a PostgreSQL
    database (`pgstore.PostgresStore`). Both switch versions atomically and allow one build at a time."""

    location: str  # for messages: "index/" or "the PostgreSQL database db on host"
    on_switch: Callable[[str], None] | None  # told of a version made current elsewhere, where the store can

    def current_version(self, cached: bool = False) -> str | None: ...

    def load(self, model_identity: str | None = None, version: str | None = None) -> StoredIndex: ...

    def save(self, new: NewVersion) -> str: ...

    def lock(self) -> AbstractContextManager[None]: ...

    def building(self) -> bool: ...

    def verify_current(self) -> bool: ...

    def previous(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]: ...

    def previous_vectors(self) -> Iterator[tuple[str, np.ndarray]]: ...

    def close(self) -> None: ...


def check_manifest(manifest: Any, model_identity: str | None, location: str, name: str, fix: str) -> dict[str, Any]:
    """A version's manifest, refused unless it is of this format, intact (its own digest) and built
    with the configured model. `location` names the index in messages, `name` the manifest."""
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"the index in {location} has another format version; {fix}")
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        raise IndexMismatch(f"{name} is damaged; {fix}")
    built_with = manifest.get("model", {}).get("identity")
    if model_identity is not None and built_with != model_identity:
        raise IndexMismatch(
            f"the index in {location} was built with the model {built_with!r}, "
            f"but the configured model is {model_identity!r}; {fix}"
        )
    return manifest


def document_from_record(record: Mapping[str, Any]) -> Document:
    """A stored document (the fields `files` writes as JSON and `postgres` as columns)."""
    return Document(
        record["id"],
        record["title"],
        record["language"],
        record["source"],
        record["text"],
        record["sha256"],
        tuple(record.get("pages") or ()),
    )


def passage_from_record(record: Mapping[str, Any], documents: Mapping[str, Document]) -> Passage:
    """A stored passage; its text is the document's, between the recorded offsets."""
    start, end = record["start"], record["end"]
    return Passage(
        doc_id=record["doc_id"],
        ordinal=record["ordinal"],
        start=start,
        end=end,
        text=documents[record["doc_id"]].text[start:end],
        language=record["language"],
        sentences=tuple(Sentence.from_record(s) for s in record["sentences"]),
        section=record["section"],
    )


def check_loaded(
    location: str,
    fix: str,
    manifest: dict[str, Any],
    passages: list[Passage],
    sentence_vectors: np.ndarray,
    lexical: LexicalIndex,
    vectors: tuple[int, int] | None = None,
) -> None:
    """A loaded version's parts must agree with each other and with the manifest (`vectors`: the
    vector index's count and dimension, where the store holds one)."""
    counts = (len(passages), manifest.get("passage_count"), *(vectors[:1] if vectors else ()))
    if len(set(counts)) != 1 or (vectors is not None and vectors[1] != manifest["model"]["dimension"]):
        raise IndexMismatch(f"the index in {location} is inconsistent (counts {counts}); {fix}")
    if sentence_vectors.shape[0] != manifest.get("sentence_count"):
        raise IndexMismatch(f"the index in {location} is inconsistent (sentences); {fix}")
    if lexical.weights.shape[0] != len(passages):
        raise IndexMismatch(f"the index in {location} is inconsistent (lexical); {fix}")
