"""Rebuilds while serving: one at a time, in a background thread, with a state to report.

`POST /api/index` and `assistant serve --watch` start rebuilds here; `GET /api/index`
reads the state. The build itself is the incremental one of `assistant index`, so the
served index switches atomically when it is done (the server reloads it per request).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.serving.assistant import Assistant

log = logging.getLogger(__name__)


@dataclass
class RebuildState:
    state: str = "idle"  # idle | running | done | failed
    trigger: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    phase: str | None = None
    summary: str | None = None
    version: str | None = None
    error: str | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)
    runs: int = 0


class Rebuilder:
    """Runs builds of `assistant`'s corpus one at a time; a request during a run is refused
    (`start` returns False), except from the watcher, whose request is queued."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._state = RebuildState()
        self._pending = False
        self._thread: threading.Thread | None = None

    def state(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self._state)

    def start(self, trigger: str, queue: bool = False) -> bool:
        """Start a rebuild; False if one is running (then queued if `queue`)."""
        with self._lock:
            if self._state.state == "running":
                self._pending = self._pending or queue
                return False
            self._state = RebuildState(
                state="running", trigger=trigger, started_at=time.time(), phase="starting", runs=self._state.runs
            )
            self._thread = threading.Thread(target=self._run, name="assistant-rebuild", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def finished(self, runs: int, timeout: float | None = None) -> bool:
        """Wait until `runs` rebuilds have finished (done or failed) since the start; False on timeout."""
        with self._finished:
            return self._finished.wait_for(lambda: self._state.runs >= runs, timeout)

    def _run(self) -> None:
        while True:
            try:
                report = self.assistant.build(on_phase=self._phase)
                with self._lock:
                    s = self._state
                    s.state, s.phase, s.version = "done", None, report.version
                    s.summary = report.plan.summary() + (
                        f"; {report.passage_summary()}; {report.embedded} texts embedded, {report.reused} reused; "
                        + report.kept_summary(self.assistant.settings.kept_warning)
                        if report.changed
                        else "; up to date"
                    )
                    s.skipped = [{"source": k.source, "reason": k.reason} for k in report.skipped]
            except AssistantError as exc:
                self._fail(str(exc))
            except Exception as exc:  # a failed rebuild must leave the service up and say why
                log.exception("rebuild failed")
                self._fail(f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._state.finished_at = time.time()
                self._state.runs += 1
                self._finished.notify_all()
                if not self._pending:
                    return
                self._pending = False
                self._state = RebuildState(
                    state="running", trigger="watch", started_at=time.time(), phase="starting", runs=self._state.runs
                )

    def _phase(self, phase: str) -> None:
        with self._lock:
            self._state.phase = phase

    def _fail(self, message: str) -> None:
        with self._lock:
            self._state.state, self._state.phase, self._state.error = "failed", None, message


def watch(
    corpus: Path,
    rebuilder: Rebuilder,
    stop: threading.Event,
    debounce_ms: int = 1500,
    ready: threading.Event | None = None,
) -> None:
    """Rebuild after changes under `corpus` settle (watchfiles groups changes for `debounce_ms`).
    `ready` is set once the watch is in place (its first wake-up), so no change before it counts."""
    from watchfiles import watch as watch_changes

    changes_seen = watch_changes(
        corpus, debounce=debounce_ms, stop_event=stop, raise_interrupt=False, yield_on_timeout=True, rust_timeout=1000
    )
    for changes in changes_seen:
        if ready is not None:
            ready.set()
        if changes:
            log.warning("corpus changed (%d files): rebuilding", len(changes))
            rebuilder.start("watch", queue=True)
