"""A build killed with SIGKILL at random moments never leaves a half-built or mixed index."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from assistant.config import Settings
from assistant.serving.assistant import Assistant
from assistant.stores.files import current_version, load_version

from .conftest import ROOT, HashEmbedder

TRIALS = 20


def _corpus(folder: Path, n: int = 80) -> None:
    folder.mkdir()
    rng = random.Random(7)
    words = "digital companies France startups growth mission community report team countries".split()
    for i in range(n):
        body = ". ".join(" ".join(rng.choices(words, k=12)).capitalize() for _ in range(8)) + "."
        (folder / f"doc-{i:03d}.txt").write_text(body, encoding="utf-8")


def test_kill_9_during_builds_leaves_a_loadable_consistent_index(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    _corpus(corpus)
    settings = Settings(corpus=corpus, index=index)
    began = time.perf_counter()
    Assistant(settings, HashEmbedder()).build()
    window = 2.5 * (time.perf_counter() - began)  # kills land before, during and after the switch
    rng = random.Random(0)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    versions_seen = set()
    for _ in range(TRIALS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.hash_build", str(corpus), str(index)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, window))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()

        store = load_version(index, "hash-trigrams-64")  # loads, and its checksums hold
        assert store.vectors.ntotal == len(store.passages) == store.manifest["passage_count"]
        assert store.lexical.weights.shape[0] == len(store.passages)
        assert len(store.documents) == 80
        assert Assistant(settings, HashEmbedder()).answer("digital companies").citations
        versions_seen.add(current_version(index))
    assert len(versions_seen) > 1, "some kills happened after a switch: builds did complete in between"
    report = Assistant(settings, HashEmbedder()).build(full=True)  # the next build completes normally
    assert report.changed and current_version(index) == report.version
    # what killed builds left behind is never served, and does not pile up: a build removes
    # stagings older than an hour (younger ones may belong to a build still running elsewhere)
    stagings = [p for p in (index / "versions").iterdir() if p.name.startswith(".staging")]
    hour_ago = time.time() - 3700
    for p in stagings:
        os.utime(p, (hour_ago, hour_ago))
    (corpus / "one-more.txt").write_text("One more document about trains.", encoding="utf-8")
    Assistant(settings, HashEmbedder()).build()
    assert [p.name for p in (index / "versions").iterdir() if p.name.startswith(".staging")] == []
    assert len([p for p in (index / "versions").iterdir() if not p.name.startswith(".")]) == 2
