"""Build CORPUS into the PostgreSQL index at URL with the tiny HashEmbedder: `once`, or `loop`
(forever, until killed). A separate process, as a rebuilder on another machine would be.

Old versions are dropped at once here (no grace period), so the crash test sees what a
killed build leaves behind without waiting a minute."""

from __future__ import annotations

import sys
from pathlib import Path

import assistant.stores.postgres_build as postgres_build
from assistant.config import Settings
from assistant.serving.assistant import Assistant
from tests.conftest import HashEmbedder

corpus, index, url, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
postgres_build.GRACE_SECONDS = 0.0
assistant = Assistant(Settings(corpus=corpus, index=index, store=url), HashEmbedder())
assistant.index_store.current_version()  # connected
print("ready", flush=True)
while True:
    report = assistant.build(full=True)
    print(report.version, flush=True)
    if mode == "once":
        break
