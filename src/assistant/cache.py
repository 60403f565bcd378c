"""A content-addressed cache of embeddings in SQLite: the same text with the same model is embedded once.

Keys are SHA-256 digests of (model identity, kind, text); values are float32 vectors
stored as raw bytes. Rebuilding an index after a small change, or re-running the
evaluation, only embeds what is new.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np

from assistant.embedding import Embedder

_BATCH = 500


class CachedEmbedder:
    """Wraps an Embedder; passages (and queries) already seen come from the cache."""

    def __init__(self, inner: Embedder, path: Path, cache_queries: bool = False, read: bool = True) -> None:
        self.inner = inner
        self.read = read  # False: embed everything again (and refresh the cache)
        self.identity = inner.identity
        self.dimension = inner.dimension
        self.cache_queries = cache_queries
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
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
            rows = [(keys[i], np.asarray(v, dtype=np.float32).tobytes()) for i, v in zip(missing, vectors, strict=True)]
            with self._lock, self._db:
                self._db.executemany("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", rows)
            for i, v in zip(missing, vectors, strict=True):
                found[keys[i]] = np.asarray(v, dtype=np.float32)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not self.cache_queries:
            return self.inner.encode_queries(texts)
        return self._encode("query", texts, 32, False)

    def encode_passages(self, texts: list[str], batch_size: int = 8, progress: bool = False) -> np.ndarray:
        return self._encode("passage", texts, batch_size, progress)

    def close(self) -> None:
        with self._lock:
            self._db.close()
