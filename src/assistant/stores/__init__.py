"""Where index versions live: files in a folder (`files.FileStore`, the default) or a PostgreSQL
database (`postgres.PostgresStore`), both behind the contract in `base.Store`."""

from __future__ import annotations

from pathlib import Path

from assistant.stores.base import Store
from assistant.stores.files import FileStore


def open_store(index: Path, url: str | None, ef_search: int = 256, schema: str = "assistant") -> Store:
    """The file store in `index`, or the PostgreSQL database at `url` (in `schema`) when one is given."""
    if not url:
        return FileStore(index)
    from assistant.stores.postgres import PostgresStore  # psycopg only for those who use it

    return PostgresStore(url, ef_search, schema=schema)
