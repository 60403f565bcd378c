"""A running service follows new index versions without making anyone wait.

These use the tiny HashEmbedder: they are about which version answers and when, not about
retrieval quality. Loads are held open with events (the real load runs, then waits to be
released), so "while it loads" is a fact of the test, not a matter of timing."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import assistant.stores.files as store_module
from assistant.config import Settings
from assistant.errors import IndexMismatch
from assistant.serving.assistant import Assistant
from assistant.stores.files import CURRENT, VERSIONS, current_version, load_version

from .conftest import CORPUS, HashEmbedder

WAIT = 60  # seconds a test waits for an event before it fails (never reached when things work)


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return Settings(corpus=tmp_path / "corpus", index=tmp_path / "index", reader=False)


def _add_documents(settings: Settings, count: int) -> None:
    for i in range(count):
        (settings.corpus / f"extra-{i:03d}.txt").write_text(
            f"Extra document {i}. "
            + " ".join(f"Sentence {j} of document {i} about trains and ports." for j in range(30)),
            encoding="utf-8",
        )


class HeldLoads:
    """Wraps the service's `load_version`: each load really runs, then waits for `release`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, before: Any = None) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.versions: list[str | None] = []
        self._before = before

        def held(index_dir: Path, identity: str | None = None, version: str | None = None) -> Any:
            self.versions.append(version)
            if self._before is not None:
                self._before()
            try:
                return load_version(index_dir, identity, version)
            finally:
                self.started.set()
                assert self.release.wait(WAIT), "the test never released the load"

        monkeypatch.setattr(store_module, "load_version", held)


def _answer_within(service: Assistant, question: str, seconds: float) -> Any:
    """The answer, computed in a thread that must finish within `seconds`."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(service.answer(question)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"the answer waited more than {seconds} s: it is stuck behind the version being loaded"
    return out[0]


def test_a_new_version_loads_in_the_background_while_the_old_one_answers(
    small: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = Assistant(small, HashEmbedder())
    first = serving.build().version
    baseline = max(serving.answer("MEDEF digital").took_ms for _ in range(3))
    _add_documents(small, 200)  # a larger version: thousands of sentences to check and load
    second = Assistant(small, HashEmbedder()).build().version
    held = HeldLoads(monkeypatch)
    answers = [_answer_within(serving, "MEDEF digital", 10)]
    assert held.started.wait(WAIT)  # the new version is loaded and held: it is not served yet
    answers += [_answer_within(serving, "MEDEF digital", 10) for _ in range(5)]
    assert [a.index_version for a in answers] == [first] * 6
    assert held.versions == [second]  # one load, however many requests saw the new pointer
    assert max(a.took_ms for a in answers) < baseline + 1000  # nobody waited on the load
    held.release.set()
    assert serving.settle(timeout=WAIT).version == second
    assert serving.answer("Extra document 7 trains").index_version == second


def test_a_damaged_version_is_tried_once_and_the_good_one_keeps_answering(
    small: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = Assistant(small, HashEmbedder())
    first = serving.build().version
    _add_documents(small, 1)
    damaged = Assistant(small, HashEmbedder()).build().version
    (small.index / VERSIONS / damaged / "sentences.npy").write_bytes(b"\x93NUMPY garbage")
    held = HeldLoads(monkeypatch)
    held.release.set()
    for _ in range(5):
        assert serving.answer("MEDEF digital").index_version == first
        serving.settle(timeout=WAIT)
    assert held.versions == [damaged]  # refused once, not re-checked at every request
    assert serving.answer("MEDEF digital").citations


def test_the_version_that_was_seen_is_the_one_loaded(small: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another build switching CURRENT while a version loads neither changes what is loaded
    nor gets the wrong version refused."""
    serving = Assistant(small, HashEmbedder())
    serving.build()
    _add_documents(small, 1)
    good = Assistant(small, HashEmbedder()).build().version
    _add_documents(small, 2)
    bad = Assistant(small, HashEmbedder()).build().version  # keeps the two newest: `good` and `bad`
    (small.index / VERSIONS / bad / "vectors.faiss").write_bytes(b"damaged")
    (small.index / CURRENT).write_text(good + "\n")

    def switch() -> None:  # the pointer moves on to the damaged version just as `good` is read
        (small.index / CURRENT).write_text(bad + "\n")

    held = HeldLoads(monkeypatch, before=switch)
    held.release.set()
    serving.store()
    assert held.started.wait(WAIT)
    served = serving.settle(timeout=WAIT)
    assert served.version == good
    assert held.versions == [good, bad]  # `good` loaded; then `bad` tried once and refused
    assert serving.answer("MEDEF digital").index_version == good


def test_a_version_removed_while_it_is_checked_is_refused_clearly(
    small: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = Assistant(small, HashEmbedder())
    first = serving.build().version
    _add_documents(small, 1)
    second = Assistant(small, HashEmbedder()).build().version
    real = store_module.sha256_file

    def removed_meanwhile(path: Path) -> str:  # another build deletes the version mid-check
        shutil.rmtree(small.index / VERSIONS / second, ignore_errors=True)
        return real(path)

    monkeypatch.setattr(store_module, "sha256_file", removed_meanwhile)
    with pytest.raises(IndexMismatch, match="missing or damaged"):
        load_version(small.index, "hash-trigrams-64", second)
    assert current_version(small.index) == second
    assert serving.answer("MEDEF digital").index_version == first
    assert serving.settle(timeout=WAIT).version == first
