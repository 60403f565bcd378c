"""Small file helpers shared by the model provisioning, the model exports and the index store."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from assistant.errors import ModelError

LOCK_WAIT = 900  # seconds a process waits for another one to finish preparing a model


def read_json(path: Path) -> Any:
    """The JSON content of a model file; ModelError naming the file when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc


@contextmanager
def cache_lock(directory: Path, name: str, what: str) -> Iterator[None]:
    """Hold `<directory>/.<name>.lock` while preparing `what` in the model cache: one process
    (or thread) at a time writes it; the others wait, then find it done. The lock is an
    flock, released by the kernel if its holder dies."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / f".{name}.lock", timeout=LOCK_WAIT)
    try:
        lock.acquire()
    except Timeout:
        raise ModelError(
            f"another process has been preparing {what} in {directory}/ for over {LOCK_WAIT} s; "
            "stop it, or point ASSISTANT_MODEL_CACHE elsewhere"
        ) from None
    try:
        yield
    finally:
        lock.release()


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digests(directory: Path, skip: str) -> dict[str, str]:
    """SHA-256 of every file under `directory` (but the one named `skip`), by relative path."""
    return {
        path.relative_to(directory).as_posix(): sha256_file(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != skip
    }


def file_stamps(directory: Path, skip: str) -> dict[str, list[int]]:
    """Size and modification time of each file: a cheap test that nothing changed since the checksums."""
    stamps = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != skip:
            st = path.stat()
            stamps[path.relative_to(directory).as_posix()] = [st.st_size, st.st_mtime_ns]
    return stamps


def publish_dir(target: Path, prefix: str, write: Callable[[Path], dict[str, Any]], checksum_file: str) -> None:
    """Build the folder `target` in a staging folder beside it, then move it into place in one
    rename, so no reader ever sees a partial one. `write` fills the staging folder and returns
    what to record in `checksum_file` besides the files' digests and stamps. Run it under
    `cache_lock`: a damaged `target` is removed first, and nobody else may be writing it."""
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        recorded = write(staging)
        recorded.update(files=file_digests(staging, checksum_file), stamps=file_stamps(staging, checksum_file))
        (staging / checksum_file).write_text(json.dumps(recorded, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
