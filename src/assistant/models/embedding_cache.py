"""A content-addressed cache of embeddings in SQLite: the same text with the same model is embedded once.

Keys are SHA-256 digests of (model identity, kind, text); values are float32 vectors
stored as raw bytes. Rebuilding an index after a small change, or re-running the
evaluation, only embeds what is new.

An index's cache keeps what the current and the previous versions use, nothing older:
every build marks the rows it uses with its build number, and a successful build drops
the rows that neither it nor the build before it used (`finish_build`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from assistant.models.embedding import Embedder

_BATCH = 500
VACUUM_BELOW = 0.75  # rewrite the file when fewer than this share of its rows remain after a clean-up


class CachedEmbedder:
    """Wraps an Embedder; passages (and queries) already seen come from the cache."""

    def __init__(
        self, inner: Embedder, path: Path, cache_queries: bool = False, read: bool = True, track: bool = False
    ) -> None:
        self.inner = inner
        self.read = read  # False: embed everything again (and refresh the cache)
        self.identity = inner.identity
        self.dimension = inner.dimension
        self.cache_queries = cache_queries
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(embeddings)")}
        if "build" not in columns:  # a cache written before clean-ups existed: its rows count as build 0
            self._db.execute("ALTER TABLE embeddings ADD COLUMN build INTEGER NOT NULL DEFAULT 0")
        self._db.commit()
        self.path = path
        self.track = track  # mark the rows used with this build's number, for `finish_build`
        self._build = self._last_build() + 1
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _key(self, kind: str, text: str) -> str:
        return hashlib.sha256(f"{self.identity}\0{kind}\0{text}".encode()).hexdigest()

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), _BATCH):
                chunk = keys[i : i + _BATCH]
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (self.dimension,):
                        found[key] = vector
        return found

    def _encode(self, kind: str, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        keys = [self._key(kind, t) for t in texts]
        found = self._lookup(keys) if self.read else {}
        missing = sorted({k: i for i, k in enumerate(keys) if k not in found}.values())
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            batch = [texts[i] for i in missing]
            if kind == "query":
                vectors = self.inner.encode_queries(batch)
            else:
                vectors = self.inner.encode_passages(batch, batch_size, progress)
            rows = [
                (keys[i], np.asarray(v, dtype=np.float32).tobytes(), self._build)
                for i, v in zip(missing, vectors, strict=True)
            ]
            with self._lock, self._db:
                self._db.executemany("INSERT OR REPLACE INTO embeddings (key, vector, build) VALUES (?, ?, ?)", rows)
            for i, v in zip(missing, vectors, strict=True):
                found[keys[i]] = np.asarray(v, dtype=np.float32)
        if self.track and found:
            with self._lock, self._db:
                self._db.executemany(
                    "UPDATE embeddings SET build = ? WHERE key = ? AND build <> ?",
                    [(self._build, k, self._build) for k in found],
                )
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def seed(self, known: Iterable[tuple[str, np.ndarray]]) -> int:
        """Add (passage text, vector) pairs computed elsewhere with the same model (a shared
        index's previous version) where the cache has none; returns how many were added."""
        added = 0
        batch: list[tuple[str, bytes, int]] = []
        for text, vector in known:
            if vector.shape == (self.dimension,):
                batch.append((self._key("passage", text), np.asarray(vector, dtype=np.float32).tobytes(), self._build))
            if len(batch) >= _BATCH:
                added += self._insert_missing(batch)
                batch = []
        return added + self._insert_missing(batch)

    def _insert_missing(self, rows: list[tuple[str, bytes, int]]) -> int:
        with self._lock, self._db:
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO embeddings (key, vector, build) VALUES (?, ?, ?)", rows)
            return self._db.total_changes - before

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not self.cache_queries:
            return self.inner.encode_queries(texts)
        return self._encode("query", texts, 32, False)

    def encode_passages(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray:
        return self._encode("passage", texts, batch_size, progress)

    def _last_build(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'build'").fetchone()
        return int(row[0]) if row else 0

    def finish_build(self) -> int:
        """After a version was written with this cache: drop the rows that neither this build
        nor the previous one used, vacuum when much went; returns the rows dropped."""
        with self._lock:
            with self._db:
                self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('build', ?)", (self._build,))
                dropped = self._db.execute("DELETE FROM embeddings WHERE build < ?", (self._build - 1,)).rowcount
            left = int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
            if dropped and left < VACUUM_BELOW * (left + dropped):
                self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._build += 1
        return int(dropped)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def cache_size(path: Path) -> int:
    """Bytes the SQLite cache at `path` takes on disk (its write-ahead log included); 0 if none."""
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.is_file())
