"""FAISS at scale: exact search against HNSW on synthetic unit vectors (a benchmark, not a test).

    python bench/scale.py [--vectors 1000000] [--queries 1000] [--json out.json]

Vectors are drawn around 2,000 random centres on the 384-dimension sphere (embeddings
cluster by topic; uniform noise would be an unrealistically hard case), queries are new
draws from the same mixture. Reports, for exact inner-product search and for HNSW:
build time, bytes per vector on disk, load time, single-query latency p50/p95 at k=10,
and HNSW's recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, percentile, report


def mixture(rng: np.random.Generator, centres: np.ndarray, n: int, spread: float) -> np.ndarray:
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        size = min(100_000, n - start)
        block = centres[rng.integers(0, len(centres), size)] + spread * rng.standard_normal(
            (size, centres.shape[1]), dtype=np.float32
        )
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def timed_search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    ids = np.empty((len(queries), k), dtype=np.int64)
    times = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - t) * 1000)
        ids[i] = found[0]
    return ids, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--ef-search", type=int, default=128, help="also measured at 64, 2x and 4x")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, args.dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    data = mixture(rng, centres, args.vectors, 0.06)
    queries = mixture(rng, centres, args.queries, 0.06)
    result: dict[str, object] = {"machine": machine(), "vectors": args.vectors, "dim": args.dim, "k": args.k}
    work = Path(tempfile.mkdtemp())

    t = time.perf_counter()
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(data)
    result["exact_build_s"] = round(time.perf_counter() - t, 1)
    _, truth = flat.search(queries, args.k)  # batched ground truth
    _, exact_ms = timed_search(flat, queries[:200], args.k)
    result["exact_ms_p50"] = round(statistics.median(exact_ms), 2)
    faiss.write_index(flat, str(work / "flat.faiss"))
    result["exact_bytes_per_vector"] = round((work / "flat.faiss").stat().st_size / args.vectors, 1)
    t = time.perf_counter()
    faiss.read_index(str(work / "flat.faiss"), faiss.IO_FLAG_MMAP)
    result["exact_load_mmap_s"] = round(time.perf_counter() - t, 3)
    del flat

    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(args.dim, args.m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = args.ef_construction
    hnsw.add(data)
    result["hnsw_build_s"] = round(time.perf_counter() - t, 1)
    result["hnsw_M"] = args.m
    for ef in sorted({64, args.ef_search, 2 * args.ef_search, 4 * args.ef_search}):
        hnsw.hnsw.efSearch = ef
        found, hnsw_ms = timed_search(hnsw, queries, args.k)
        recall = np.mean([len(set(f) & set(g)) / args.k for f, g in zip(found, truth, strict=True)])
        result[f"hnsw_ef{ef}_recall_at_k"] = round(float(recall), 4)
        result[f"hnsw_ef{ef}_ms_p50"] = round(statistics.median(hnsw_ms), 2)
        result[f"hnsw_ef{ef}_ms_p95"] = round(percentile(hnsw_ms, 95), 2)
    faiss.write_index(hnsw, str(work / "hnsw.faiss"))
    result["hnsw_bytes_per_vector"] = round((work / "hnsw.faiss").stat().st_size / args.vectors, 1)
    del hnsw
    t = time.perf_counter()
    faiss.read_index(str(work / "hnsw.faiss"))
    result["hnsw_load_s"] = round(time.perf_counter() - t, 2)
    for f in work.iterdir():
        f.unlink()
    work.rmdir()

    report(result, args.json)


if __name__ == "__main__":
    main()
