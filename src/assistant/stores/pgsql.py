"""PostgreSQL names, limits and error messages shared by the PostgreSQL store's modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
from psycopg.conninfo import conninfo_to_dict

from assistant.errors import StoreUnavailable

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


# pgvector's HNSW needs a wider build than FAISS's for the same recall:
# docs/quality.md#pg_min_ef_construction
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


def as_array(value: Any) -> np.ndarray:
    """A pgvector value as float32 (pgvector's adapter gives numpy arrays or `Vector` objects)."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type when it has none)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def unavailable(where: str, exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"{where} cannot be reached ({first_line(exc)}); try again shortly")
