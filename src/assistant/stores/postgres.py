"""The index in PostgreSQL with pgvector: one database shared by any number of serving replicas.

Selected by `ASSISTANT_STORE=postgresql://user:password@host:port/database`. Layout:

    assistant.versions(name, manifest, created_at)  every complete version, one row each
    assistant.current(version)                      the version being served (one row)
    assistant_v<version> (one schema per version):
        documents(position, id, title, language, source, sha256, text, pages)
        passages(row, doc_id, ordinal, start_char, end_char, language, sentences, section,
                 sentence_row, embedding vector(d))    + HNSW (inner product) from
                                                        `ann_threshold` passages on
        sentence_vectors(row, vectors)   a passage's sentence unit vectors, float32 bytes
        blobs(name, data)                the keyword index (BM25 weights and vocabulary)

A build writes its whole version in ONE transaction that also switches `assistant.current`
and sends a NOTIFY: readers see the previous version or the new one, never a part, and a
builder that dies (kill -9, lost connection) leaves nothing behind, as PostgreSQL rolls the
transaction back. One build at a time, across machines, with a session advisory lock that
the server releases when the builder's connection ends.

Serving replicas keep the passage table, sentence vectors and keyword index of the version
they serve in memory (as the file store does) and ask PostgreSQL for the nearest passages
(pgvector, exact below `ann_threshold` passages, HNSW above). They follow `current` by
LISTEN/NOTIFY with polling as a fallback. Search, fusion, answer sentences and abstention are
the application's own, identical to the file store's.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from assistant.errors import BuildBusy, IndexMismatch, IndexMissing, IndexWriteError, StoreUnavailable
from assistant.stores.base import (
    VERSION_NAME,
    NewVersion,
    StoredIndex,
    check_loaded,
    check_manifest,
    document_from_record,
    manifest_digest,
    passage_from_record,
)
from assistant.stores.follower import follow
from assistant.stores.pgsql import (
    BUILD_LOCK,
    CONNECT_TIMEOUT,
    PGVECTOR_MAX_EF_SEARCH,
    POOL_WAIT,
    SCHEMA,
    SNAPSHOT,
    STATEMENT_TIMEOUT_MS,
    as_array,
    describe,
    first_line,
    unavailable,
    version_schema,
)
from assistant.stores.pgvectors import PgVectors
from assistant.stores.postgres_build import create_tables, drop_old, write_version
from assistant.text.keywords import LexicalIndex

log = logging.getLogger(__name__)


class PostgresStore:
    """Index versions in a PostgreSQL database (see the module's docstring)."""

    def __init__(self, url: str, ef_search: int = 256, pool_size: int = 8, schema: str = SCHEMA) -> None:
        self.url = url
        self.schema = schema  # several indexes can share a database, one schema each
        self.location = describe(url) + ("" if schema == SCHEMA else f", schema {schema}")
        self._lock_key = (BUILD_LOCK, zlib.crc32(schema.encode()) & 0x7FFFFFFF)
        self.ef_search = min(ef_search, PGVECTOR_MAX_EF_SEARCH)
        self._current: str | None = None
        # called (from the follower thread) with the new version when `current` changes: a
        # server loads it then, not at its next question
        self.on_switch: Callable[[str], None] | None = None
        self._watching: threading.Thread | None = None
        self._closed = threading.Event()
        self._watch_lock = threading.Lock()
        create_tables(self._connect, self.schema, self.location)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "application_name": "assistant serve"},
            configure=self._configure,
            open=True,
            name="assistant",
        )

    # -- connections -------------------------------------------------------------------

    def _connect(self, purpose: str, autocommit: bool = False) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=autocommit,
                connect_timeout=CONNECT_TIMEOUT,
                application_name=f"assistant {purpose} (pid {os.getpid()} on {socket.gethostname()})"[:63],
            )
        except psycopg.Error as exc:
            raise unavailable(self.location, exc) from exc
        return conn

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        register_vector(conn)
        conn.execute(f"SET hnsw.ef_search = {int(self.ef_search)}")
        conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")

    def query(self, statement: Any, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of a read-only serving query; one retry on a fresh connection when the one
        taken from the pool was lost (database restarted, connection killed)."""
        for attempt in (0, 1):
            try:
                if attempt:  # a connection of its own: the pool may still hold other dead ones
                    with self._connect("search", autocommit=True) as conn:
                        self._configure(conn)
                        return conn.execute(statement, params).fetchall()
                with self._pool.connection(timeout=POOL_WAIT) as conn:
                    return conn.execute(statement, params).fetchall()
            except psycopg.errors.UndefinedTable as exc:
                raise StoreUnavailable(
                    "the index version being served was removed from the database; the current one is being loaded"
                ) from exc
            except PoolTimeout as exc:  # no connection could be made: retrying would only wait again
                raise unavailable(self.location, exc) from exc
            except psycopg.OperationalError as exc:
                if attempt:
                    raise unavailable(self.location, exc) from exc
                log.warning("index database connection lost (%s); retrying on a new connection", exc)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._closed.set()
        self._pool.close()

    # -- versions ------------------------------------------------------------------------

    def current_version(self, cached: bool = False) -> str | None:
        """The version `current` names. `cached`: the value the LISTEN/NOTIFY watcher keeps
        (no round trip; a serving process asks this on every request)."""
        if cached:
            self._watch()
            return self._current
        try:
            with self._connect("read") as conn:
                row = conn.execute(
                    sql.SQL("SELECT version FROM {}.current").format(sql.Identifier(self.schema))
                ).fetchone()
        except psycopg.Error as exc:
            raise unavailable(self.location, exc) from exc
        self._current = None if row is None else str(row[0])
        return self._current

    def _watch(self) -> None:
        if self._watching is not None:
            return
        with self._watch_lock:
            if self._watching is not None:
                return
            self.current_version()  # the first answer waits for the real value
            self._watching = threading.Thread(
                target=follow,
                args=(weakref.ref(self), self.url, self.schema, self._closed),
                name="assistant-follow",
                daemon=True,
            )
            self._watching.start()

    def verify_current(self) -> bool:
        version = self.current_version()
        if version is None:
            return False
        try:
            with self._connect("read") as conn:
                row = self._manifest(conn, version)
        except psycopg.Error:
            return False
        return row is not None and row[0].get("manifest_sha256") == manifest_digest(row[0])

    def building(self) -> bool:
        """True while a build holds the lock (on any machine)."""
        try:
            with self._connect("read", autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
                    "AND objsubid = 2 AND granted",
                    self._lock_key,
                ).fetchone()
        except psycopg.Error as exc:
            raise unavailable(self.location, exc) from exc
        return bool(row and row[0])

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One build at a time across machines: an advisory lock held by this connection, which
        the server releases if the builder dies or loses the connection."""
        conn = self._connect("build lock", autocommit=True)
        try:
            acquired = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self._lock_key).fetchone()
            if not (acquired and acquired[0]):
                holder = conn.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 "
                    "AND l.granted",
                    self._lock_key,
                ).fetchone()
                who = holder[0] if holder and holder[0] else "another process"
                raise BuildBusy(
                    f"another build of the index in {self.location} is running ({who}); "
                    "wait for it to finish and try again"
                )
            yield
        finally:
            conn.close()  # releases the lock

    def _manifest(self, conn: psycopg.Connection[Any], version: str) -> tuple[Any, ...] | None:
        """The row (manifest,) of `version` in the versions table, or None."""
        return conn.execute(
            sql.SQL("SELECT manifest FROM {}.versions WHERE name = %s").format(sql.Identifier(self.schema)),
            (version,),
        ).fetchone()

    def previous(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """The current version's manifest, documents (without text) and passages (offsets and
        language), for planning an incremental build; empty when there is none."""
        version = self.current_version()
        if version is None:
            return {}, [], []
        schema = sql.Identifier(version_schema(self.schema, version))
        try:
            with self._connect("read") as conn, conn.transaction():
                conn.execute(SNAPSHOT)
                row = self._manifest(conn, version)
                documents = [
                    {"id": r[0], "sha256": r[1], "source": r[2], "title": r[3], "language": r[4]}
                    for r in conn.execute(
                        sql.SQL("SELECT id, sha256, source, title, language FROM {}.documents").format(schema)
                    )
                ]
                passages = [
                    {"doc_id": r[0], "start": r[1], "end": r[2], "language": r[3]}
                    for r in conn.execute(
                        sql.SQL("SELECT doc_id, start_char, end_char, language FROM {}.passages").format(schema)
                    )
                ]
        except psycopg.errors.UndefinedTable:
            return {}, [], []
        except psycopg.Error as exc:
            raise unavailable(self.location, exc) from exc
        return (row[0] if row else {}), documents, passages

    def previous_vectors(self) -> Iterator[tuple[str, np.ndarray]]:
        """(text, vector) of the current version's passages and sentences: a builder on another
        machine reuses them instead of embedding unchanged text again."""
        version = self.current_version()
        if version is None:
            return
        schema = sql.Identifier(version_schema(self.schema, version))
        try:
            with self._connect("read") as conn:
                register_vector(conn)
                conn.commit()
                conn.execute(SNAPSHOT)
                texts = dict(conn.execute(sql.SQL("SELECT id, text FROM {}.documents").format(schema)).fetchall())
                query = sql.SQL(
                    "SELECT p.doc_id, p.start_char, p.end_char, p.sentences, p.embedding, s.vectors"
                    " FROM {0}.passages p JOIN {0}.sentence_vectors s ON s.row = p.row"
                ).format(schema)
                with conn.cursor(name="previous_vectors") as cursor:
                    cursor.itersize = 2000
                    for doc_id, start, end, spans, embedding, sentences in cursor.execute(query):
                        text = texts[doc_id]
                        yield text[start:end], as_array(embedding)
                        unit = np.frombuffer(sentences, dtype=np.float32).reshape(len(spans), -1) if spans else None
                        for i, span in enumerate(spans):
                            yield text[span[0] : span[1]], unit[i]  # type: ignore[index]
        except psycopg.errors.UndefinedTable:
            return  # replaced and dropped meanwhile: the build embeds what it needs
        except psycopg.Error as exc:
            raise unavailable(self.location, exc) from exc

    def load(self, model_identity: str | None = None, version: str | None = None) -> StoredIndex:
        """Load a version (the current one unless named) whole, in one consistent snapshot."""
        fix = "run `assistant index` to build it again"
        if version is None:
            version = self.current_version()
        if version is None:
            raise IndexMissing(f"no index in {self.location} — run `assistant index` first")
        if not VERSION_NAME.fullmatch(version):
            raise IndexMismatch(f"{self.location} names a damaged version; {fix}")
        schema = sql.Identifier(version_schema(self.schema, version))
        try:
            with self._connect("load") as conn, conn.transaction():
                conn.execute(SNAPSHOT)
                row = self._manifest(conn, version)
                if row is None:
                    raise IndexMismatch(f"index version {version} is no longer in {self.location}")
                manifest = check_manifest(
                    row[0], model_identity, self.location, f"the manifest of index version {version}", fix
                )
                columns = "id, title, language, source, text, sha256, pages"
                documents = {
                    r[0]: document_from_record(dict(zip(columns.split(", "), r, strict=True)))
                    for r in conn.execute(
                        sql.SQL("SELECT " + columns + " FROM {}.documents ORDER BY position").format(schema)
                    )
                }
                names = ("doc_id", "ordinal", "start", "end", "language", "sentences", "section", "sentence_row")
                records = [
                    dict(zip(names, r, strict=True))
                    for r in conn.execute(
                        sql.SQL(
                            "SELECT doc_id, ordinal, start_char, end_char, language, sentences, section, "
                            "sentence_row FROM {}.passages ORDER BY row"
                        ).format(schema)
                    )
                ]
                passages = [passage_from_record(r, documents) for r in records]
                sentence_rows = [r["sentence_row"] for r in records]
                dimension = int(manifest["model"]["dimension"])
                chunks = [
                    np.frombuffer(r[0], dtype=np.float32)
                    for r in conn.execute(
                        sql.SQL("SELECT vectors FROM {}.sentence_vectors ORDER BY row").format(schema)
                    )
                ]
                sentence_vectors = (
                    np.concatenate(chunks).reshape(-1, dimension)
                    if chunks
                    else np.zeros((0, dimension), dtype=np.float32)
                )
                blobs = dict(conn.execute(sql.SQL("SELECT name, data FROM {}.blobs").format(schema)).fetchall())
                lexical = LexicalIndex.from_bytes(bytes(blobs["lexical.npz"]), bytes(blobs["lexical.json"]))
        except psycopg.errors.UndefinedTable as exc:
            raise IndexMismatch(f"index version {version} is no longer in {self.location}") from exc
        except psycopg.Error as exc:
            raise unavailable(self.location, exc) from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise IndexMismatch(f"index version {version} in {self.location} cannot be read ({exc}); {fix}") from exc
        check_loaded(self.location, fix, manifest, passages, sentence_vectors, lexical)
        vectors = PgVectors(self.query, version_schema(self.schema, version), len(passages), dimension)
        return StoredIndex(
            self.location, manifest, vectors, passages, documents, sentence_vectors, sentence_rows, lexical
        )

    def save(self, new: NewVersion) -> str:
        """Write a complete new version and make it current, in one transaction; returns its name."""
        try:
            with self._connect("build") as conn:
                # first what a build killed after its switch left behind, so that builds killed
                # one after the other never leave more than one old version between them
                drop_old(conn, self.schema)
                version = write_version(conn, self.schema, new)
                self._current = version
                drop_old(conn, self.schema, keep=version)
        except psycopg.Error as exc:  # lost connection, disk full, ...: the transaction rolled back
            raise IndexWriteError(
                f"the index in {self.location} could not be updated ({first_line(exc)}); "
                "the version it serves is unchanged"
            ) from exc
        return version

    def versions(self) -> list[str]:
        """Names of the versions in the database, oldest first."""
        with self._connect("read") as conn:
            return [
                r[0]
                for r in conn.execute(
                    sql.SQL("SELECT name FROM {}.versions ORDER BY created_at").format(sql.Identifier(self.schema))
                )
            ]
