"""The vector side of an index version in PostgreSQL (pgvector), behind FAISS's calling conventions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from psycopg import sql

from assistant.errors import StoreUnavailable
from assistant.stores.pgsql import as_array


class PgVectors:
    """The vector side of a version in PostgreSQL, with FAISS's calling conventions
    (`search`, `reconstruct`, `reconstruct_batch`, `ntotal`, `d`) so that `StoredIndex` and
    everything above it work unchanged."""

    def __init__(
        self, query: Callable[[Any, Any], list[tuple[Any, ...]]], schema: str, ntotal: int, dimension: int
    ) -> None:
        self.query, self.schema, self.ntotal, self.d = query, schema, ntotal, dimension

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(queries, dtype=np.float32).reshape(-1)
        statement = sql.SQL(
            "SELECT row, embedding <#> %(q)s FROM {}.passages ORDER BY embedding <#> %(q)s LIMIT %(k)s"
        ).format(sql.Identifier(self.schema))
        rows = self.query(statement, {"q": query, "k": int(k)})
        ids = np.full((1, k), -1, dtype=np.int64)
        scores = np.zeros((1, k), dtype=np.float32)
        for i, (row, distance) in enumerate(rows):
            ids[0, i], scores[0, i] = row, -distance  # <#> is the negative inner product
        return scores, ids

    def reconstruct_batch(self, rows: np.ndarray) -> np.ndarray:
        wanted = [int(r) for r in rows]
        statement = sql.SQL("SELECT row, embedding FROM {}.passages WHERE row = ANY(%s)").format(
            sql.Identifier(self.schema)
        )
        found = {row: as_array(vector) for row, vector in self.query(statement, (wanted,))}
        if len(found) != len(set(wanted)):
            raise StoreUnavailable(f"index version {self.schema} lost passages while serving; try again shortly")
        return np.stack([found[r] for r in wanted]) if wanted else np.zeros((0, self.d), dtype=np.float32)

    def reconstruct(self, row: int) -> np.ndarray:
        return self.reconstruct_batch(np.array([row]))[0]
