"""Damaged index files: every truncation and bit flip is refused at load with a clear error,
before FAISS or numpy read a byte of it, and a running service keeps its good version."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.config import Settings
from assistant.errors import IndexMismatch, IndexMissing
from assistant.serving.assistant import Assistant
from assistant.stores.files import CURRENT, FILES, VERSIONS, current_version, load_version

from .conftest import CORPUS, HashEmbedder

TARGETS = [*FILES, "manifest.json", CURRENT]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, bytes]]]:
    base = tmp_path_factory.mktemp("damage")
    shutil.copytree(CORPUS, base / "corpus")
    settings = Settings(corpus=base / "corpus", index=base / "index")
    Assistant(settings, HashEmbedder()).build()
    index_dir = base / "index"
    version = index_dir / VERSIONS / str(current_version(index_dir))
    originals = {name: _path(index_dir, version, name).read_bytes() for name in TARGETS}
    yield index_dir, originals


def _path(index_dir: Path, version: Path, name: str) -> Path:
    return index_dir / CURRENT if name == CURRENT else version / name


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(TARGETS), flip=st.booleans(), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7)
)
def test_any_truncation_or_bit_flip_is_refused(
    index: tuple[Path, dict[str, bytes]], name: str, flip: bool, where: float, bit: int
) -> None:
    index_dir, originals = index
    original = originals[name]
    position = int(where * len(original))
    if flip:
        damaged = original[:position] + bytes([original[position] ^ (1 << bit)]) + original[position + 1 :]
    else:
        damaged = original[:position]
    version = index_dir / VERSIONS / originals[CURRENT].decode().strip()
    target = _path(index_dir, version, name)
    target.write_bytes(damaged)
    try:
        if name == CURRENT and damaged.strip() == original.strip():
            load_version(index_dir)  # only the final newline went: nothing is damaged
        elif name == CURRENT and not damaged.strip():
            with pytest.raises(IndexMissing):
                load_version(index_dir)
        else:
            with pytest.raises(IndexMismatch, match=r"damaged|cannot be read|format version|inconsistent"):
                load_version(index_dir)
    finally:
        target.write_bytes(original)
    load_version(index_dir)  # restored: loads again


@pytest.mark.parametrize("damage", ["vectors", "manifest", "pointer garbage", "pointer deleted"])
def test_a_running_service_keeps_its_good_version(tmp_path: Path, damage: str) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = Settings(corpus=tmp_path / "corpus", index=tmp_path / "index")
    embedder = HashEmbedder()
    Assistant(settings, embedder).build()
    service = Assistant(settings, embedder)
    good = service.answer("MEDEF Digital Disruption Lab").index_version
    (tmp_path / "corpus" / "extra.txt").write_text("A new document about something else entirely.\n")
    newer = Assistant(settings, embedder).build().version
    version = tmp_path / "index" / VERSIONS / newer
    if damage == "vectors":
        with (version / "vectors.faiss").open("r+b") as f:
            f.seek(40)
            f.write(b"\x00\xff\x00\xff")
    elif damage == "manifest":
        text = (version / "manifest.json").read_text()
        (version / "manifest.json").write_text(text.replace('"passage_count": ', '"passage_count": 1'))
    elif damage == "pointer garbage":
        (tmp_path / "index" / CURRENT).write_bytes(b"\xff\xfe../../etc\n")
    else:
        (tmp_path / "index" / CURRENT).unlink()
    for _ in range(3):  # and again: the refused version is not retried at every request
        answer = service.answer("MEDEF Digital Disruption Lab")
        assert answer.index_version == good and answer.citations
