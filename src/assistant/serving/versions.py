"""The index version a service answers from, following the store's current one without downtime."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from assistant.config import Settings
from assistant.errors import IndexMismatch, IndexMissing, StoreUnavailable
from assistant.stores import open_store
from assistant.stores.base import Store, StoredIndex

log = logging.getLogger(__name__)


class ServedVersion:
    """The loaded index version. The first call loads the current one; when another version
    becomes current it is loaded (and checked) in the background while the loaded one keeps
    answering, so a running service follows rebuilds without making anyone wait. A version
    that fails to load is refused and the loaded one keeps serving."""

    def __init__(self, settings: Settings, identity: Callable[[], str]) -> None:
        self.settings = settings
        self._identity = identity  # the embedding model's identity, which a version must match
        self._store: StoredIndex | None = None
        self._refused: str | None = None  # a version that failed to load; the loaded one keeps serving
        self._loading: threading.Thread | None = None  # the version being loaded in the background
        self._open_lock = threading.Lock()
        self._store_lock = threading.Lock()
        self._index_store: Store | None = None

    @property
    def loaded(self) -> StoredIndex | None:
        """The version loaded now, without loading or following anything."""
        return self._store

    @property
    def index_store(self) -> Store:
        """Where the index versions live: files in `settings.index`, or the PostgreSQL database of
        `settings.store` (connected on first use; StoreUnavailable says why it cannot be)."""
        if self._index_store is None:
            with self._open_lock:
                if self._index_store is None:
                    settings = self.settings
                    self._index_store = open_store(
                        settings.index, settings.store, settings.hnsw_ef_search, settings.store_schema
                    )
                    self._index_store.on_switch = self._switched  # a database store tells of switches
        return self._index_store

    def current(self) -> StoredIndex:
        """The index version to answer from.

        The first call loads the current version. Afterwards, when another version becomes
        current, it is loaded (and checked) in the background while the one already loaded
        keeps answering; the next question after the load finishes uses it.
        """
        version = self.index_store.current_version(cached=True)
        store = self._store
        if store is None:
            if version is None:
                where, corpus = self.index_store.location, self.settings.corpus
                raise IndexMissing(f"no index in {where} — run `assistant index` to build it from {corpus}/")
            identity = self._identity()  # load the model outside the store lock
            with self._store_lock:
                if self._store is None:
                    self._store = self.index_store.load(identity, version)
                return self._store
        # no pointer (deleted, or being restored): keep what works
        if version is not None and version not in (store.version, self._refused):
            self._load_in_background(version)
        return store

    def settle(self, timeout: float | None = None) -> StoredIndex:
        """The version to answer from once any load in progress has finished (for a build in
        this process, and for tests: a service never waits)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            store = self.current()
            loading = self._loading
            if loading is None:
                if self.index_store.current_version() in (store.version, self._refused, None):
                    return store
                continue  # a newer version appeared since: load it too
            loading.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if loading.is_alive():
                return store

    def _switched(self, version: str) -> None:
        """Another process made `version` current: load it now if this service serves already."""
        if self._store is not None and version not in (self._store.version, self._refused):
            self._load_in_background(version)

    def _load_in_background(self, version: str) -> None:
        with self._store_lock:
            if self._loading is not None:
                return  # one load at a time; a version current after it is loaded next
            thread = threading.Thread(target=self._load, args=(version,), name=f"load-{version}", daemon=True)
            self._loading = thread
        thread.start()

    def _load(self, version: str) -> None:
        try:
            store = self.index_store.load(self._identity(), version)
        except StoreUnavailable as exc:  # the database is away for now: the next question tries again
            log.warning("index version %s not loaded yet (%s); still serving %s", version, exc, self._store_version())
        except (IndexMismatch, IndexMissing) as exc:
            # a damaged new version must not take down a service that has a good one
            log.error("index version %s refused (%s); still serving %s", version, exc, self._store_version())
            self._refused = version
        except Exception:  # a background thread: log it, keep serving the loaded version
            log.exception("index version %s could not be loaded; still serving %s", version, self._store_version())
            self._refused = version
        else:
            self._store = store
            log.info("now serving index version %s", version)
        finally:
            with self._store_lock:
                self._loading = None

    def _store_version(self) -> str | None:
        return None if self._store is None else self._store.version
