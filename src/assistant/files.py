"""Small file helpers shared by the model provisioning, the model exports and the index store."""

from __future__ import annotations

import hashlib
from pathlib import Path


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
