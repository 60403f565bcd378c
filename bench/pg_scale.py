"""PostgreSQL + pgvector at scale: the vector side of the PostgreSQL store (a benchmark, not a test).

    python bench/pg_scale.py [--vectors 100000] [--queries 500] [--url postgresql://...] [--json out.json]

Without --url, a PostgreSQL 16 with pgvector is started in a temporary folder (pgserver).
Synthetic unit vectors (the Gaussian mixture of bench/scale.py) go into a table laid out as
the store's `passages` table, by binary COPY as the store writes them; the HNSW index is
built with the store's settings (m 32, ef_construction 128, inner product). Queries go through
the store's own search path (`stores.pgvectors.PgVectors`, pooled connections, hnsw.ef_search as
configured). Reports: COPY and HNSW build times, database size per vector, single-query
latency p50/p99 at k=10 for HNSW and for exact search, and HNSW's recall@10 against exact.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assistant.stores.pgsql import PG_MIN_EF_CONSTRUCTION
from assistant.stores.pgvectors import PgVectors
from assistant.stores.postgres import PostgresStore
from common import machine, percentile, report
from scale import mixture, timed_search  # PgVectors searches as FAISS does

SCHEMA = "bench_scale"


def start_server(folder: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        return str(pgserver.get_server(folder, cleanup_mode="stop").get_uri())


def load(url: str, vectors: np.ndarray) -> float:
    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.commit()
        register_vector(conn)
        schema = sql.Identifier(SCHEMA)
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(
            sql.SQL("CREATE TABLE {}.passages (row int PRIMARY KEY, embedding vector({}) NOT NULL)").format(
                schema, sql.Literal(vectors.shape[1])
            )
        )
        with conn.cursor().copy(
            sql.SQL("COPY {}.passages (row, embedding) FROM STDIN WITH (FORMAT BINARY)").format(schema)
        ) as copy:
            copy.set_types(["int4", "vector"])
            for row, vector in enumerate(vectors):
                copy.write_row((row, vector))
        conn.commit()
    return time.perf_counter() - began


def build_hnsw(url: str, m: int, ef_construction: int, memory: str) -> float:
    began = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(memory)))
        conn.execute(
            sql.SQL(
                "CREATE INDEX passages_hnsw ON {}.passages USING hnsw (embedding vector_ip_ops)"
                " WITH (m = {}, ef_construction = {})"
            ).format(sql.Identifier(SCHEMA), sql.Literal(m), sql.Literal(ef_construction))
        )
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=PG_MIN_EF_CONSTRUCTION)
    parser.add_argument("--ef-search", type=int, default=256, help="the store's default (ASSISTANT_HNSW_EF_SEARCH)")
    parser.add_argument("--also", type=int, nargs="*", default=[64, 1000], help="other ef_search values to measure")
    parser.add_argument("--memory", default="2GB", help="maintenance_work_mem for the HNSW build (4GB at 1M)")
    parser.add_argument("--url", help="an existing database (its schema bench_scale is replaced)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, args.dim), dtype=np.float32)
    data = mixture(rng, centres, args.vectors, 0.06)
    queries = mixture(rng, centres, args.queries, 0.06)
    truth = np.concatenate(  # exact top-k (as sets) in numpy, a block of queries at a time
        [np.argpartition(-(block @ data.T), args.k, axis=1)[:, : args.k] for block in np.array_split(queries, 20)]
    )

    with tempfile.TemporaryDirectory(prefix="pg-scale-") as folder:
        url = args.url or start_server(Path(folder))
        result: dict[str, object] = {"machine": machine(), "vectors": args.vectors, "dim": args.dim, "k": args.k}
        result["copy_s"] = round(load(url, data), 1)
        store = PostgresStore(url, args.ef_search, schema="bench_scale_store")
        search = PgVectors(store.query, SCHEMA, args.vectors, args.dim)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("ANALYZE {}.passages").format(sql.Identifier(SCHEMA)))
        _, exact_times = timed_search(search, queries[: min(50, args.queries)], args.k)  # sequential scan
        result["exact_p50_ms"] = round(percentile(exact_times, 50), 2)
        result["exact_p99_ms"] = round(percentile(exact_times, 99), 2)
        result["hnsw_build_s"] = round(build_hnsw(url, args.m, args.ef_construction, args.memory), 1)
        timed_search(search, queries[:20], args.k)  # warm the index pages
        for ef in sorted({min(args.ef_search, 1000), *args.also}):
            tuned = PostgresStore(url, ef, schema="bench_scale_store")
            found, times = timed_search(PgVectors(tuned.query, SCHEMA, args.vectors, args.dim), queries, args.k)
            recall = np.mean([len(set(f) & set(t)) / args.k for f, t in zip(found, truth, strict=True)])
            suffix = "" if ef == min(args.ef_search, 1000) else f"_ef{ef}"
            result["hnsw_ef_search" + suffix] = ef
            result["hnsw_p50_ms" + suffix] = round(percentile(times, 50), 2)
            result["hnsw_p99_ms" + suffix] = round(percentile(times, 99), 2)
            result["hnsw_recall_at_10" + suffix] = round(float(recall), 3)
            tuned.close()
        with psycopg.connect(url) as conn:
            size = conn.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (SCHEMA,),
            ).fetchone()
        total = int(size[0]) if size and size[0] else 0
        result["database_mb"] = round(total / 1e6, 1)
        result["bytes_per_vector"] = round(total / args.vectors, 1)
        store.close()
    report(result, args.json)


if __name__ == "__main__":
    main()
