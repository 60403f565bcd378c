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

import atexit
import json
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
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from assistant.errors import BuildBusy, IndexMismatch, IndexMissing, IndexWriteError, StoreUnavailable
from assistant.stores.base import (
    FORMAT_VERSION,
    KEEP_VERSIONS,
    VERSION_NAME,
    StoredIndex,
    check_counts,
    complete_manifest,
    manifest_digest,
    version_name,
)
from assistant.text.keywords import LexicalIndex
from assistant.types import Document, Passage, Sentence

log = logging.getLogger(__name__)

SCHEMA = "assistant"
BUILD_LOCK = 0x6275696C  # advisory lock ("buil", crc32 of the schema): one build at a time, any machine
SETUP_LOCK = 0x73657475  # ("setu", 0): one process creates tables at a time
POLL_SECONDS = 2.0  # replicas re-read `current` this often when no notification came
GRACE_SECONDS = 60.0  # a version older than current and previous is dropped only after this long
CONNECT_TIMEOUT = 5
POOL_WAIT = 3  # seconds a question waits for a database connection before its 503
STATEMENT_TIMEOUT_MS = 10_000  # a serving query never hangs a request for longer
PGVECTOR_MAX_EF_SEARCH = 1000
SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"  # a version read whole, as of one moment
# pgvector's HNSW needs a wider build than FAISS's for the same recall: on 200,000 synthetic
# vectors (bench/pg_scale.py, m 32, ef_search 256) ef_construction 64 gave recall@10 0.882
# and 128 gave 0.978, for a 1.6x longer build (FAISS reaches 0.977 at 1M with 64)
PG_MIN_EF_CONSTRUCTION = 128


def describe(url: str) -> str:
    """The database of `url` for messages, without its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL database named by ASSISTANT_STORE"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"the PostgreSQL database {parts.get('dbname') or parts.get('user') or '(default)'} on {host}{port}"


def version_schema(schema: str, version: str) -> str:
    """The schema that holds one version's tables."""
    return f"{schema}_v" + version.lower().replace("-", "_")


def _array(value: Any) -> np.ndarray:
    """A pgvector value as float32 (pgvector's adapter gives numpy arrays or `Vector` objects)."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def _reason(exc: BaseException) -> str:
    """The first line of an error's message (its type when it has none)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _unavailable(where: str, exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"{where} cannot be reached ({_reason(exc)}); try again shortly")


_EXITING = threading.Event()  # the interpreter is exiting: followers stop instead of reconnecting
# threading's exit hooks run before atexit's (which may stop a database first, as pgserver's
# does); concurrent.futures relies on the same hook. Plain atexit where it is missing.
getattr(threading, "_register_atexit", atexit.register)(_EXITING.set)


def _follow(store: weakref.ref[PostgresStore], url: str, schema: str, closed: threading.Event) -> None:
    """Keep the store's `_current` up to date: LISTEN for switches, poll as a fallback, reconnect
    after losses. Holds the store weakly: the thread ends with it (or when it is closed)."""
    delay = 0.5
    current = sql.SQL("SELECT version FROM {}.current").format(sql.Identifier(schema))
    name = f"assistant follow (pid {os.getpid()} on {socket.gethostname()})"[:63]
    said: str | None = None  # the failure last logged as a warning: an outage is said once
    while not closed.is_set() and store() is not None:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name=name) as conn:
                if said is not None:
                    log.warning("following index versions again")
                    said = None
                try:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(f"{schema}_version")))
                    listening = True
                except (psycopg.errors.FeatureNotSupported, psycopg.errors.ReadOnlySqlTransaction):
                    listening = False  # a read replica (hot standby) has no LISTEN: polling alone
                delay = 0.5
                while not closed.is_set():
                    row = conn.execute(current).fetchone()
                    owner = store()
                    if owner is None:
                        return
                    seen, owner._current = owner._current, None if row is None else str(row[0])
                    if owner._current != seen and owner._current is not None and owner.on_switch is not None:
                        try:
                            owner.on_switch(owner._current)
                        except Exception:  # a listener's failure must not stop the following
                            log.exception("reacting to index version %s", owner._current)
                    del owner
                    if listening:
                        for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                            pass  # a switch: read `current` again at once
                    else:
                        closed.wait(POLL_SECONDS)
        except psycopg.Error as exc:
            if _EXITING.is_set() or store() is None:
                return
            reason = _reason(exc)
            (log.debug if reason == said else log.warning)(
                "following index versions: %s; retrying in %.1f s", reason, delay
            )
            said = reason
            closed.wait(delay)
            delay = min(delay * 2, 10.0)


class PgVectors:
    """The vector side of a version in PostgreSQL, with FAISS's calling conventions
    (`search`, `reconstruct`, `reconstruct_batch`, `ntotal`, `d`) so that `StoredIndex` and
    everything above it work unchanged."""

    def __init__(self, store: PostgresStore, schema: str, ntotal: int, dimension: int) -> None:
        self.store, self.schema, self.ntotal, self.d = store, schema, ntotal, dimension

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(queries, dtype=np.float32).reshape(-1)
        statement = sql.SQL(
            "SELECT row, embedding <#> %(q)s FROM {}.passages ORDER BY embedding <#> %(q)s LIMIT %(k)s"
        ).format(sql.Identifier(self.schema))
        rows = self.store.query(statement, {"q": query, "k": int(k)})
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
        found = {row: _array(vector) for row, vector in self.store.query(statement, (wanted,))}
        if len(found) != len(set(wanted)):
            raise StoreUnavailable(f"index version {self.schema} lost passages while serving; try again shortly")
        return np.stack([found[r] for r in wanted]) if wanted else np.zeros((0, self.d), dtype=np.float32)

    def reconstruct(self, row: int) -> np.ndarray:
        return self.reconstruct_batch(np.array([row]))[0]


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
        self._setup()
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
            raise _unavailable(self.location, exc) from exc
        return conn

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        conn.execute(f"SET hnsw.ef_search = {int(self.ef_search)}")
        conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")

    def _setup(self) -> None:
        """Create the extension and the version tables if they are not there (idempotent; nothing
        is written when they are, so a server may point at a read-only replica)."""
        with self._connect("setup") as conn:
            try:
                ready = conn.execute(
                    "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL"
                    " AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')",
                    (f'"{self.schema}".versions', f'"{self.schema}".current'),
                ).fetchone()
                conn.rollback()
                if ready and ready[0]:
                    return
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (SETUP_LOCK, 0))
                    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
                        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
                    conn.execute(
                        sql.SQL(
                            "CREATE TABLE IF NOT EXISTS {}.versions (name text PRIMARY KEY, manifest jsonb NOT NULL,"
                            " created_at timestamptz NOT NULL DEFAULT clock_timestamp())"
                        ).format(sql.Identifier(self.schema))
                    )
                    conn.execute(
                        sql.SQL(
                            "CREATE TABLE IF NOT EXISTS {0}.current (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
                            " version text NOT NULL REFERENCES {0}.versions (name))"
                        ).format(sql.Identifier(self.schema))
                    )
            except psycopg.errors.InsufficientPrivilege as exc:
                raise StoreUnavailable(
                    f"{self.location} lacks the pgvector extension or the right to create "
                    f"the assistant's tables ({str(exc).splitlines()[0]}); as its owner run "
                    "`CREATE EXTENSION vector;` and grant this user CREATE on the database"
                ) from exc
            except psycopg.errors.FeatureNotSupported as exc:
                raise StoreUnavailable(f"{self.location} has no pgvector ({exc})") from exc
            except psycopg.errors.UndefinedFile as exc:
                raise StoreUnavailable(
                    f"{self.location} has no pgvector extension installed ({exc}); "
                    "install pgvector (https://github.com/pgvector/pgvector) on the server"
                ) from exc
            except psycopg.OperationalError as exc:
                raise _unavailable(self.location, exc) from exc

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
                raise _unavailable(self.location, exc) from exc
            except psycopg.OperationalError as exc:
                if attempt:
                    raise _unavailable(self.location, exc) from exc
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
            raise _unavailable(self.location, exc) from exc
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
                target=_follow,
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
            raise _unavailable(self.location, exc) from exc
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
            raise _unavailable(self.location, exc) from exc
        return (row[0] if row else {}), documents, passages

    def previous_vectors(self) -> Iterator[tuple[str, np.ndarray]]:
        """(text, vector) of the current version's passages and sentences: a builder on another
        machine reuses them instead of embedding unchanged text again."""
        version = self.current_version()
        if version is None:
            return
        schema = sql.Identifier(version_schema(self.schema, version))
        from pgvector.psycopg import register_vector

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
                        yield text[start:end], _array(embedding)
                        unit = np.frombuffer(sentences, dtype=np.float32).reshape(len(spans), -1) if spans else None
                        for i, span in enumerate(spans):
                            yield text[span[0] : span[1]], unit[i]  # type: ignore[index]
        except psycopg.errors.UndefinedTable:
            return  # replaced and dropped meanwhile: the build embeds what it needs
        except psycopg.Error as exc:
            raise _unavailable(self.location, exc) from exc

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
                manifest = row[0]
                if manifest.get("format_version") != FORMAT_VERSION:
                    raise IndexMismatch(f"the index in {self.location} has another format version; {fix}")
                if manifest.get("manifest_sha256") != manifest_digest(manifest):
                    raise IndexMismatch(f"the manifest of index version {version} is damaged; {fix}")
                built_with = manifest.get("model", {}).get("identity")
                if model_identity is not None and built_with != model_identity:
                    raise IndexMismatch(
                        f"the index in {self.location} was built with the model {built_with!r}, "
                        f"but the configured model is {model_identity!r}; {fix}"
                    )
                documents: dict[str, Document] = {}
                for r in conn.execute(
                    sql.SQL(
                        "SELECT id, title, language, source, text, sha256, pages FROM {}.documents ORDER BY position"
                    ).format(schema)
                ):
                    documents[r[0]] = Document(r[0], r[1], r[2], r[3], r[4], r[5], tuple(r[6]))
                passages, sentence_rows = [], []
                for r in conn.execute(
                    sql.SQL(
                        "SELECT doc_id, ordinal, start_char, end_char, language, sentences, section, sentence_row "
                        "FROM {}.passages ORDER BY row"
                    ).format(schema)
                ):
                    passages.append(
                        Passage(
                            doc_id=r[0],
                            ordinal=r[1],
                            start=r[2],
                            end=r[3],
                            text=documents[r[0]].text[r[2] : r[3]],
                            language=r[4],
                            sentences=tuple(Sentence.from_record(s) for s in r[5]),
                            section=r[6],
                        )
                    )
                    sentence_rows.append(r[7])
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
            raise _unavailable(self.location, exc) from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise IndexMismatch(f"index version {version} in {self.location} cannot be read ({exc}); {fix}") from exc
        counts = (len(passages), manifest.get("passage_count"))
        if len(set(counts)) != 1 or sentence_vectors.shape[0] != manifest.get("sentence_count"):
            raise IndexMismatch(f"index version {version} in {self.location} is inconsistent; {fix}")
        if lexical.weights.shape[0] != len(passages):
            raise IndexMismatch(f"index version {version} in {self.location} is inconsistent (lexical); {fix}")
        vectors = PgVectors(self, version_schema(self.schema, version), len(passages), dimension)
        return StoredIndex(
            self.location, manifest, vectors, passages, documents, sentence_vectors, sentence_rows, lexical
        )

    def save(
        self,
        passages: list[Passage],
        vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        lexical: LexicalIndex,
        documents: list[Document],
        manifest: dict[str, Any],
    ) -> str:
        """Write a complete new version and make it current, in one transaction; returns its name."""
        from pgvector.psycopg import register_vector

        n_sentences = check_counts(passages, vectors, sentence_vectors, lexical)
        dimension = int(manifest["model"]["dimension"])
        version = version_name()
        schema = sql.Identifier(version_schema(self.schema, version))
        try:
            with self._connect("build") as conn:
                register_vector(conn)
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
                        sql.SQL(
                            "CREATE TABLE {}.sentence_vectors (row int PRIMARY KEY, vectors bytea NOT NULL)"
                        ).format(schema)
                    )
                    conn.execute(
                        sql.SQL("CREATE TABLE {}.blobs (name text PRIMARY KEY, data bytea NOT NULL)").format(schema)
                    )
                    self._copy_rows(conn, schema, passages, vectors, sentence_vectors, lexical, documents)
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
                        len(passages),
                        len(documents),
                        n_sentences,
                        vector_index=spec,
                        store="postgresql",
                    )
                    conn.execute(
                        sql.SQL("INSERT INTO {}.versions (name, manifest) VALUES (%s, %s)").format(
                            sql.Identifier(self.schema)
                        ),
                        (version, json.dumps(full, ensure_ascii=False)),
                    )
                    conn.execute(
                        sql.SQL(
                            "INSERT INTO {}.current (one, version) VALUES (true, %s)"
                            " ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version"
                        ).format(sql.Identifier(self.schema)),
                        (version,),
                    )
                    conn.execute("SELECT pg_notify(%s, %s)", (f"{self.schema}_version", version))
                self._current = version
                self._drop_old(conn, version)
        except psycopg.Error as exc:  # lost connection, disk full, ...: the transaction rolled back
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IndexWriteError(
                f"the index in {self.location} could not be updated ({reason}); the version it serves is unchanged"
            ) from exc
        return version

    def _copy_rows(
        self,
        conn: psycopg.Connection[Any],
        schema: sql.Identifier,
        passages: list[Passage],
        vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        lexical: LexicalIndex,
        documents: list[Document],
    ) -> None:
        """COPY every row of a version (binary for the vectors: the fastest way in)."""
        columns = "(position, id, title, language, source, sha256, text, pages)"
        with conn.cursor().copy(sql.SQL("COPY {}.documents " + columns + " FROM STDIN").format(schema)) as copy:
            for position, d in enumerate(documents):
                pages = json.dumps(list(d.pages))
                copy.write_row((position, d.id, d.title, d.language, d.source, d.sha256, d.text, pages))
        unit = np.ascontiguousarray(vectors, dtype=np.float32)
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
        sentences = np.ascontiguousarray(sentence_vectors, dtype=np.float32)
        first = 0
        with conn.cursor().copy(sql.SQL("COPY {}.sentence_vectors (row, vectors) FROM STDIN").format(schema)) as copy:
            for row, p in enumerate(passages):
                copy.write_row((row, sentences[first : first + len(p.sentences)].tobytes()))
                first += len(p.sentences)
        npz, meta = lexical.to_bytes()
        insert = sql.SQL("INSERT INTO {}.blobs (name, data) VALUES ('lexical.npz', %s), ('lexical.json', %s)")
        conn.execute(insert.format(schema), (npz, meta))

    def _drop_old(self, conn: psycopg.Connection[Any], keep: str) -> None:
        """Drop versions past the current and the one before it, once the version that replaced
        each was current for the grace period (a replica may still be loading it and answering
        from the older one). A failure here is retried by the next build."""
        try:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '2s'")
                rows = conn.execute(
                    sql.SQL(
                        "SELECT name, extract(epoch FROM clock_timestamp() - created_at) FROM {}.versions"
                        " ORDER BY created_at DESC"
                    ).format(sql.Identifier(self.schema))
                ).fetchall()
                for i in range(KEEP_VERSIONS, len(rows)):
                    name, replaced_for = rows[i][0], float(rows[i - 1][1])  # the age of its successor
                    if name != keep and replaced_for > GRACE_SECONDS:
                        conn.execute(
                            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                                sql.Identifier(version_schema(self.schema, name))
                            )
                        )
                        conn.execute(
                            sql.SQL("DELETE FROM {}.versions WHERE name = %s").format(sql.Identifier(self.schema)),
                            (name,),
                        )
        except psycopg.Error as exc:
            log.warning("old index versions were not dropped yet (%s); the next build retries", exc)

    def versions(self) -> list[str]:
        """Names of the versions in the database, oldest first."""
        with self._connect("read") as conn:
            return [
                r[0]
                for r in conn.execute(
                    sql.SQL("SELECT name FROM {}.versions ORDER BY created_at").format(sql.Identifier(self.schema))
                )
            ]
