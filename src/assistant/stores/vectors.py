"""FAISS indexes for a version's passage vectors: exact search while it is fast enough, HNSW past it."""

from __future__ import annotations

from typing import Any

import faiss


def choose_vector_index(passages: int, threshold: int, m: int, ef_construction: int, ef_search: int) -> dict[str, Any]:
    """Exact search while it is fast enough; HNSW (approximate, recall@10 ≈ 1 in bench/scale.py) past
    `threshold` passages."""
    if passages < threshold:
        return {"kind": "flat"}
    return {"kind": "hnsw", "M": m, "ef_construction": ef_construction, "ef_search": ef_search}


def make_vector_index(dimension: int, spec: dict[str, Any]) -> faiss.Index:
    if spec.get("kind") == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, int(spec["M"]), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(spec["ef_construction"])
        return index
    return faiss.IndexFlatIP(dimension)


def tune_vector_index(index: faiss.Index, spec: dict[str, Any]) -> None:
    """Search-time settings that FAISS does not keep in the file."""
    if spec.get("kind") == "hnsw":
        inner = faiss.downcast_index(index.index if hasattr(index, "index") else index)
        inner.hnsw.efSearch = int(spec["ef_search"])  # type: ignore[attr-defined]
