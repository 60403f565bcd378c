"""Writing the PostgreSQL store: its tables, a whole version in one transaction, old versions dropped.

A build writes its whole version in ONE transaction that also switches `current` and sends a
NOTIFY: readers see the previous version or the new one, never a part, and a builder that dies
leaves nothing behind, as PostgreSQL rolls the transaction back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.types.json import Jsonb

from assistant.errors import StoreUnavailable
from assistant.stores.base import KEEP_VERSIONS, NewVersion, complete_manifest, version_name
from assistant.stores.pgsql import GRACE_SECONDS, PG_MIN_EF_CONSTRUCTION, SETUP_LOCK, unavailable, version_schema

log = logging.getLogger(__name__)


def create_tables(connect: Callable[[str], psycopg.Connection[Any]], schema: str, location: str) -> None:
    """Create the extension and the version tables if they are not there (idempotent; nothing
    is written when they are, so a server may point at a read-only replica)."""
    with connect("setup") as conn:
        try:
            ready = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')",
                (f'"{schema}".versions', f'"{schema}".current'),
            ).fetchone()
            conn.rollback()
            if ready and ready[0]:
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (SETUP_LOCK, 0))
                if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {}.versions (name text PRIMARY KEY, manifest jsonb NOT NULL,"
                        " created_at timestamptz NOT NULL DEFAULT clock_timestamp())"
                    ).format(sql.Identifier(schema))
                )
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {0}.current (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
                        " version text NOT NULL REFERENCES {0}.versions (name))"
                    ).format(sql.Identifier(schema))
                )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreUnavailable(
                f"{location} lacks the pgvector extension or the right to create "
                f"the assistant's tables ({str(exc).splitlines()[0]}); as its owner run "
                "`CREATE EXTENSION vector;` and grant this user CREATE on the database"
            ) from exc
        except psycopg.errors.FeatureNotSupported as exc:
            raise StoreUnavailable(f"{location} has no pgvector ({exc})") from exc
        except psycopg.errors.UndefinedFile as exc:
            raise StoreUnavailable(
                f"{location} has no pgvector extension installed ({exc}); "
                "install pgvector (https://github.com/pgvector/pgvector) on the server"
            ) from exc
        except psycopg.OperationalError as exc:
            raise unavailable(location, exc) from exc


def write_version(
    conn: psycopg.Connection[Any],
    store_schema: str,
    new: NewVersion,
) -> str:
    """Write a complete new version and make it current, in one transaction; returns its name."""
    register_vector(conn)
    n_sentences = new.sentence_count()
    manifest = new.manifest
    dimension = int(manifest["model"]["dimension"])
    version = version_name()
    schema = sql.Identifier(version_schema(store_schema, version))
    with conn.transaction():
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.documents (position int PRIMARY KEY, id text NOT NULL UNIQUE, title text,"
                " language text, source text, sha256 text, text text NOT NULL, pages jsonb NOT NULL)"
            ).format(schema)
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.passages (row int PRIMARY KEY, doc_id text NOT NULL, ordinal int,"
                " start_char int, end_char int, language text, sentences jsonb, section text,"
                " sentence_row int, embedding vector({}) NOT NULL)"
            ).format(schema, sql.Literal(dimension))
        )
        conn.execute(
            sql.SQL("CREATE TABLE {}.sentence_vectors (row int PRIMARY KEY, vectors bytea NOT NULL)").format(schema)
        )
        conn.execute(sql.SQL("CREATE TABLE {}.blobs (name text PRIMARY KEY, data bytea NOT NULL)").format(schema))
        copy_rows(conn, schema, new)
        spec = dict(manifest.get("vector_index", {}))
        if spec.get("kind") == "hnsw":
            spec["ef_construction"] = max(int(spec["ef_construction"]), PG_MIN_EF_CONSTRUCTION)
            conn.execute(
                sql.SQL(
                    "CREATE INDEX ON {}.passages USING hnsw (embedding vector_ip_ops)"
                    " WITH (m = {}, ef_construction = {})"
                ).format(schema, sql.Literal(int(spec["M"])), sql.Literal(int(spec["ef_construction"])))
            )
        full = complete_manifest(
            manifest,
            version,
            len(new.passages),
            len(new.documents),
            n_sentences,
            vector_index=spec,
            store="postgresql",
        )
        conn.execute(
            sql.SQL("INSERT INTO {}.versions (name, manifest) VALUES (%s, %s)").format(sql.Identifier(store_schema)),
            (version, json.dumps(full, ensure_ascii=False)),
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.current (one, version) VALUES (true, %s)"
                " ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version"
            ).format(sql.Identifier(store_schema)),
            (version,),
        )
        conn.execute("SELECT pg_notify(%s, %s)", (f"{store_schema}_version", version))
    return version


def copy_rows(
    conn: psycopg.Connection[Any],
    schema: sql.Identifier,
    new: NewVersion,
) -> None:
    """COPY every row of a version (binary for the vectors: the fastest way in)."""
    passages = new.passages
    columns = "(position, id, title, language, source, sha256, text, pages)"
    with conn.cursor().copy(sql.SQL("COPY {}.documents " + columns + " FROM STDIN").format(schema)) as copy:
        for position, d in enumerate(new.documents):
            pages = json.dumps(list(d.pages))
            copy.write_row((position, d.id, d.title, d.language, d.source, d.sha256, d.text, pages))
    unit = np.ascontiguousarray(new.vectors, dtype=np.float32)
    columns = "(row, doc_id, ordinal, start_char, end_char, language, sentences, section, sentence_row, embedding)"
    first = 0
    with conn.cursor().copy(
        sql.SQL("COPY {}.passages " + columns + " FROM STDIN WITH (FORMAT BINARY)").format(schema)
    ) as copy:
        copy.set_types(["int4", "text", "int4", "int4", "int4", "text", "jsonb", "text", "int4", "vector"])
        for row, p in enumerate(passages):
            spans = Jsonb([s.record() for s in p.sentences])
            fields = (row, p.doc_id, p.ordinal, p.start, p.end, p.language, spans, p.section, first)
            copy.write_row((*fields, unit[row]))
            first += len(p.sentences)
    sentences = np.ascontiguousarray(new.sentence_vectors, dtype=np.float32)
    first = 0
    with conn.cursor().copy(sql.SQL("COPY {}.sentence_vectors (row, vectors) FROM STDIN").format(schema)) as copy:
        for row, p in enumerate(passages):
            copy.write_row((row, sentences[first : first + len(p.sentences)].tobytes()))
            first += len(p.sentences)
    npz, meta = new.lexical.to_bytes()
    insert = sql.SQL("INSERT INTO {}.blobs (name, data) VALUES ('lexical.npz', %s), ('lexical.json', %s)")
    conn.execute(insert.format(schema), (npz, meta))


def drop_old(conn: psycopg.Connection[Any], store_schema: str, keep: str | None = None) -> None:
    """Drop versions past the current and the one before it, once the version that replaced
    each was current for the grace period (a replica may still be loading it and answering
    from the older one); never `keep` (by default the version `current` names). A failure
    here is retried by the next build."""
    try:
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '2s'")
            if keep is None:
                served = conn.execute(
                    sql.SQL("SELECT version FROM {}.current").format(sql.Identifier(store_schema))
                ).fetchone()
                keep = served[0] if served else ""
            rows = conn.execute(
                sql.SQL(
                    "SELECT name, extract(epoch FROM clock_timestamp() - created_at) FROM {}.versions"
                    " ORDER BY created_at DESC"
                ).format(sql.Identifier(store_schema))
            ).fetchall()
            for i in range(KEEP_VERSIONS, len(rows)):
                name, replaced_for = rows[i][0], float(rows[i - 1][1])  # the age of its successor
                if name != keep and replaced_for > GRACE_SECONDS:
                    conn.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                            sql.Identifier(version_schema(store_schema, name))
                        )
                    )
                    conn.execute(
                        sql.SQL("DELETE FROM {}.versions WHERE name = %s").format(sql.Identifier(store_schema)),
                        (name,),
                    )
    except psycopg.Error as exc:
        log.warning("old index versions were not dropped yet (%s); the next build retries", exc)
