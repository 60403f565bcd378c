"""Durability of index builds: the order of writes, syncs and renames, and I/O errors injected
at each of them (the previous version stays loadable, the build fails with a clear message)."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import IndexWriteError
from assistant.serving.assistant import Assistant
from assistant.stores.files import CURRENT, VERSIONS, current_version, load_version

from .conftest import CORPUS, HashEmbedder


def _setup(tmp_path: Path) -> tuple[Settings, str]:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = Settings(corpus=tmp_path / "corpus", index=tmp_path / "index")
    first = Assistant(settings, HashEmbedder()).build().version
    (tmp_path / "corpus" / "new.txt").write_text("A new document, to make the next build write a version.\n")
    return settings, first


def _record(monkeypatch: pytest.MonkeyPatch, fail_at: tuple[str, int, int] | None = None) -> list[tuple[str, ...]]:
    """Record fsyncs (by path) and renames; with `fail_at` = (call, n, errno), the n-th such call fails."""
    events: list[tuple[str, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace
    counts = {"fsync": 0, "rename": 0}

    def maybe_fail(kind: str) -> None:
        counts[kind] += 1
        if fail_at and fail_at[0] == kind and fail_at[1] == counts[kind]:
            raise OSError(fail_at[2], os.strerror(fail_at[2]))

    def fsync(fd: int) -> None:
        maybe_fail("fsync")
        real_fsync(fd)
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        maybe_fail("rename")
        real_replace(src, dst)
        events.append(("rename", str(src), str(dst)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def test_files_are_synced_before_the_rename_and_the_directory_after(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings, _ = _setup(tmp_path)
    events = _record(monkeypatch)
    version = Assistant(settings, HashEmbedder()).build().version
    index = str(tmp_path / "index")
    versions = f"{index}/{VERSIONS}"
    staging = next(e[1] for e in events if e[0] == "rename" and e[2] == f"{versions}/{version}")
    position = {e: i for i, e in enumerate(events)}
    publish = position[("rename", staging, f"{versions}/{version}")]
    synced = [i for e, i in position.items() if e[0] == "fsync" and e[1].startswith(staging + "/")]
    assert len(synced) == 7  # the six data files and the manifest
    assert max(synced) < position[("fsync", staging)] < publish < position[("fsync", versions)]
    pointer = next(e[1] for e in events if e[0] == "rename" and e[2] == f"{index}/{CURRENT}")
    switch = position[("rename", pointer, f"{index}/{CURRENT}")]
    assert position[("fsync", versions)] < position[("fsync", pointer)] < switch < position[("fsync", index)]


def _count_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    settings, _ = _setup(tmp_path / "count")
    with monkeypatch.context() as m:
        events = _record(m)
        Assistant(settings, HashEmbedder()).build()
    return {kind: sum(e[0] == kind for e in events) for kind in ("fsync", "rename")}


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO, errno.EROFS])
def test_an_io_error_at_any_sync_or_rename_keeps_the_previous_version(tmp_path: Path, monkeypatch, code: int) -> None:  # type: ignore[no-untyped-def]
    counts = _count_calls(tmp_path, monkeypatch)
    assert counts["fsync"] >= 10 and counts["rename"] == 2
    for kind, total in counts.items():
        for n in range(1, total + 1):
            work = tmp_path / f"{kind}-{n}"
            settings, first = _setup(work)
            with monkeypatch.context() as m:
                _record(m, (kind, n, code))
                with pytest.raises(IndexWriteError, match=os.strerror(code)) as failure:
                    Assistant(settings, HashEmbedder()).build()
            served = current_version(settings.index)
            # up to the switch of CURRENT the old version stays; a failure after it (the last
            # fsync, of the index folder) leaves the complete new one: never a half-built index
            if kind == "fsync" and n == total:
                assert served not in (None, first)
                assert f"the new version {served} is complete and served" in str(failure.value)
            else:
                assert served == first
                assert f"version {first} is unchanged and still served" in str(failure.value)
            load_version(settings.index)
            leftovers = [p.name for p in (settings.index / VERSIONS).iterdir() if p.name.startswith(".staging")]
            assert leftovers == []


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("limit", [2_000, 20_000, 60_000])
def test_the_cli_says_why_when_the_disk_fills_during_a_build(tmp_path: Path, limit: int) -> None:
    """`assistant index` in a process that cannot write files past `limit` bytes (a full disk,
    for FAISS's own C writes too): exit 1, one clear line, the previous version intact."""
    settings, first = _setup(tmp_path)
    env = {**os.environ, "ASSISTANT_CORPUS": str(settings.corpus), "ASSISTANT_INDEX": str(settings.index)}
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "index"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: _limit_file_size(limit),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "could not be updated" in result.stderr and f"version {first} is unchanged" in result.stderr
    assert current_version(settings.index) == first
    load_version(settings.index)
