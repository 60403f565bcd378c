"""Run builds of CORPUS into INDEX with the tiny HashEmbedder, forever (until killed).

Used by the crash test: the test kills this process at random moments."""

from __future__ import annotations

import sys
from pathlib import Path

from assistant.config import Settings
from assistant.serving.assistant import Assistant
from tests.conftest import HashEmbedder

corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
assistant = Assistant(Settings(corpus=corpus, index=index), HashEmbedder())
print("ready", flush=True)
while True:
    assistant.build(full=True)
