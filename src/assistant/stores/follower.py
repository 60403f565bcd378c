"""Following the version a PostgreSQL index serves: a thread per store LISTENs for switches
(NOTIFY), polls as a fallback, and reconnects after losses."""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import weakref
from typing import Any

import psycopg
from psycopg import sql

from assistant.stores.pgsql import CONNECT_TIMEOUT, POLL_SECONDS, first_line

log = logging.getLogger(__name__)

_EXITING = threading.Event()  # the interpreter is exiting: followers stop instead of reconnecting


# threading's exit hooks run before atexit's (which may stop a database first, as pgserver's
# does); concurrent.futures relies on the same hook. Plain atexit where it is missing.
getattr(threading, "_register_atexit", atexit.register)(_EXITING.set)


def follow(store: weakref.ref[Any], url: str, schema: str, closed: threading.Event) -> None:
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
            if _EXITING.is_set() or closed.is_set() or store() is None:
                return  # a closed store's database may well be gone: nothing to say
            reason = first_line(exc)
            (log.debug if reason == said else log.warning)(
                "following index versions: %s; retrying in %.1f s", reason, delay
            )
            said = reason
            closed.wait(delay)
            delay = min(delay * 2, 10.0)
