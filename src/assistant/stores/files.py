"""The file store: the index on disk as FAISS vectors, a passage table in JSON lines, and a manifest.

Layout of the index folder::

    CURRENT                  name of the version being served (replaced atomically)
    versions/<version>/
        manifest.json        model identity and dimension, chunking, corpus fingerprint,
                             counts, build time, format version, checksums of the files
        vectors.faiss        inner-product index over unit passage vectors (ids = rows)
        passages.jsonl       one passage per line, row order, with offsets and sentences
        documents.jsonl      the documents' text and metadata
        sentences.npy        unit vectors of every passage sentence (for answer sentences)
        lexical.npz/.json    BM25 weights (passages x terms) and the term vocabulary

A version is written completely in a staging folder, synced, then renamed into
place; only then does CURRENT switch to it. A reader therefore sees a whole version
or the previous one, never a mixture. Nothing is pickled.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from assistant.errors import BuildBusy, IndexMismatch, IndexMissing
from assistant.files import sha256_file
from assistant.stores.base import (
    KEEP_VERSIONS,
    VERSION_NAME,
    NewVersion,
    StoredIndex,
    check_loaded,
    check_manifest,
    complete_manifest,
    document_from_record,
    manifest_digest,
    passage_from_record,
    version_name,
)
from assistant.stores.vectors import make_vector_index, tune_vector_index
from assistant.text.keywords import LexicalIndex
from assistant.types import Passage

CURRENT = "CURRENT"


LOCK = ".build.lock"


VERSIONS = "versions"


FILES = ("vectors.faiss", "passages.jsonl", "documents.jsonl", "sentences.npy", "lexical.npz", "lexical.json")


def _fix(index_dir: Path) -> str:
    return f"run `assistant index --index {index_dir}` to build it again"


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _passage_record(row: int, p: Passage, first_sentence_row: int) -> dict[str, Any]:
    return {
        "row": row,
        "doc_id": p.doc_id,
        "ordinal": p.ordinal,
        "start": p.start,
        "end": p.end,
        "language": p.language,
        "sentences": [s.record() for s in p.sentences],
        "sentence_row": first_sentence_row,
        "section": p.section,
    }


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def save_version(index_dir: Path, new: NewVersion) -> str:
    """Write a complete new version and make it current atomically; returns its name."""
    n_sentences = new.sentence_count()
    passages, manifest = new.passages, new.manifest
    versions = index_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    version = version_name()
    staging = versions / f".staging-{version}"
    staging.mkdir()
    try:
        index = faiss.IndexIDMap2(
            make_vector_index(int(manifest["model"]["dimension"]), manifest.get("vector_index", {}))
        )
        if len(passages):
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # an HNSW build uses every core (per thread)
            index.add_with_ids(
                np.ascontiguousarray(new.vectors, dtype=np.float32), np.arange(len(passages), dtype=np.int64)
            )
        faiss.write_index(index, str(staging / "vectors.faiss"))
        records, first = [], 0
        for row, p in enumerate(passages):
            records.append(_passage_record(row, p, first))
            first += len(p.sentences)
        _write_jsonl(staging / "passages.jsonl", records)
        _write_jsonl(
            staging / "documents.jsonl",
            [
                {
                    "id": d.id,
                    "title": d.title,
                    "language": d.language,
                    "source": d.source,
                    "sha256": d.sha256,
                    "text": d.text,
                    "pages": list(d.pages),
                }
                for d in new.documents
            ],
        )
        new.lexical.save(staging)
        with (staging / "sentences.npy").open("wb") as f:
            np.save(f, np.ascontiguousarray(new.sentence_vectors, dtype=np.float32), allow_pickle=False)
        files = {name: sha256_file(staging / name) for name in FILES}
        full = complete_manifest(manifest, version, len(passages), len(new.documents), n_sentences, files=files)
        (staging / "manifest.json").write_text(json.dumps(full, indent=2, ensure_ascii=False), encoding="utf-8")
        for name in (*FILES, "manifest.json"):
            _fsync_file(staging / name)
        _fsync_dir(staging)
        final = versions / version
        os.replace(staging, final)
        _fsync_dir(versions)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pointer = index_dir / f".{CURRENT}.{version}.tmp"
    pointer.write_text(version + "\n", encoding="utf-8")
    _fsync_file(pointer)
    os.replace(pointer, index_dir / CURRENT)
    _fsync_dir(index_dir)
    _clean_old_versions(index_dir, keep=version)
    return version


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Serialise builds of one index. The lock is an flock, released by the kernel when its
    holder exits, so a killed build never leaves a lock that blocks the next one."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(encoding="utf-8").strip() or "another process"
            raise BuildBusy(
                f"another build of {index_dir}/ is running ({holder}); wait for it to finish and try again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _clean_old_versions(index_dir: Path, keep: str) -> None:
    versions = index_dir / VERSIONS
    # oldest first by when they were written: names only order by the second, and builds a
    # second apart or less (tests, scripts) would otherwise lose the previous version
    complete = sorted(
        (p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
    )
    for old in [p for p in complete if p.name != keep][: max(0, len(complete) - KEEP_VERSIONS)]:
        shutil.rmtree(old, ignore_errors=True)
    for staging in versions.glob(".staging-*"):
        if staging.stat().st_mtime < time.time() - 3600:
            shutil.rmtree(staging, ignore_errors=True)


def verify_current(index_dir: Path) -> bool:
    """True when the current version's files are all there and match their checksums."""
    version = current_version(index_dir)
    if version is None:
        return False
    path = index_dir / VERSIONS / version
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        files = manifest["files"]
        if not VERSION_NAME.fullmatch(version) or manifest.get("manifest_sha256") != manifest_digest(manifest):
            return False
        return set(files) == set(FILES) and all(sha256_file(path / name) == digest for name, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def current_version(index_dir: Path) -> str | None:
    """Name of the version CURRENT points to, or None when there is no index."""
    try:
        name = (index_dir / CURRENT).read_bytes().decode("utf-8", "replace").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None  # a damaged name is refused by load_version


def load_version(index_dir: Path, model_identity: str | None = None, version: str | None = None) -> StoredIndex:
    """Load a version (the current one unless `version` names another), checking it whole before use.

    Raises IndexMissing when there is none, IndexMismatch when it was built with
    another model or format, when any file is damaged, or when the version disappears
    while it is read (another build removed it).
    """
    if version is None:
        version = current_version(index_dir)
    if version is None:
        raise IndexMissing(f"no index in {index_dir}/ — run `assistant index --index {index_dir}` first")
    if not VERSION_NAME.fullmatch(version):
        raise IndexMismatch(f"{index_dir / CURRENT} is damaged (it names {version[:80]!r}); {_fix(index_dir)}")
    path = index_dir / VERSIONS / version
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexMismatch(f"the index in {index_dir}/ is damaged (manifest: {exc}); {_fix(index_dir)}") from exc
    manifest = check_manifest(
        manifest, model_identity, f"{index_dir}/", f"the index manifest {path / 'manifest.json'}", _fix(index_dir)
    )
    if set(manifest.get("files", {})) != set(FILES):
        raise IndexMismatch(f"the index in {index_dir}/ lacks files; {_fix(index_dir)}")
    for name, digest in manifest["files"].items():
        file = path / name
        try:
            intact = sha256_file(file) == digest
        except OSError:  # missing, or removed while being read
            intact = False
        if not intact:
            raise IndexMismatch(f"the index file {file} is missing or damaged; {_fix(index_dir)}")
    try:
        vectors = faiss.read_index(str(path / "vectors.faiss"))
        tune_vector_index(vectors, manifest.get("vector_index", {}))
        sentence_vectors = np.load(path / "sentences.npy", allow_pickle=False, mmap_mode="r")
        lexical = LexicalIndex.load(path)
        documents = {d.id: d for d in map(document_from_record, _read_jsonl(path / "documents.jsonl"))}
        records = _read_jsonl(path / "passages.jsonl")
        passages = [passage_from_record(r, documents) for r in records]
        sentence_rows = [r["sentence_row"] for r in records]
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexMismatch(f"the index in {index_dir}/ cannot be read ({exc}); {_fix(index_dir)}") from exc
    check_loaded(
        f"{index_dir}/", _fix(index_dir), manifest, passages, sentence_vectors, lexical, (vectors.ntotal, vectors.d)
    )
    return StoredIndex(path, manifest, vectors, passages, documents, sentence_vectors, sentence_rows, lexical)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class FileStore:
    """Index versions as files under one folder (the functions above)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = f"{path}/"
        self.on_switch: Callable[[str], None] | None = None  # never called: servers read CURRENT per question

    def current_version(self, cached: bool = False) -> str | None:
        return current_version(self.path)  # one small read: cheap enough for every request

    def load(self, model_identity: str | None = None, version: str | None = None) -> StoredIndex:
        return load_version(self.path, model_identity, version)

    def save(self, new: NewVersion) -> str:
        return save_version(self.path, new)

    def lock(self) -> AbstractContextManager[None]:
        return build_lock(self.path)

    def building(self) -> bool:
        # Probing the flock would take it for an instant and could make a starting build fail;
        # another process's build shows instead as a rebuild that failed with BuildBusy.
        return False

    def verify_current(self) -> bool:
        return verify_current(self.path)

    def previous(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        version = current_version(self.path)
        if version is None:
            return {}, [], []
        path = self.path / VERSIONS / version
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
            return manifest, _read_jsonl(path / "documents.jsonl"), _read_jsonl(path / "passages.jsonl")
        except (OSError, ValueError):
            return {}, [], []  # an unreadable version is simply rebuilt

    def previous_vectors(self) -> Iterator[tuple[str, np.ndarray]]:
        """(text, vector) of the current version's passages and sentences, for a builder whose
        embedding cache lacks them; none here: the cache lives beside the files."""
        return iter(())

    def close(self) -> None:
        pass
