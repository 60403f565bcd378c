"""The index on disk. Uses the tiny HashEmbedder: these tests are about storage, not retrieval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import IndexMismatch, IndexMissing
from assistant.serving.assistant import Assistant
from assistant.stores.base import FORMAT_VERSION
from assistant.stores.files import CURRENT, FILES, VERSIONS, current_version, load_version

from .conftest import CORPUS, HashEmbedder


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return Settings(corpus=tmp_path / "corpus", index=tmp_path / "index")


def test_round_trip_keeps_passages_offsets_and_counts(small: Settings) -> None:
    report = Assistant(small, HashEmbedder()).build()
    store = load_version(small.index, "hash-trigrams-64")
    assert store.version == report.version == current_version(small.index)
    assert store.vectors.ntotal == len(store.passages) == store.manifest["passage_count"] == report.passages
    m = store.manifest
    assert m["model"] == {"identity": "hash-trigrams-64", "dimension": 64, "normalized": True}
    assert m["format_version"] == FORMAT_VERSION and m["built_at"] and len(m["corpus_fingerprint"]) == 64
    for p in store.passages:
        assert store.documents[p.doc_id].text[p.start : p.end] == p.text
    # nothing is pickled: every file is JSON, FAISS or .npy without objects
    names = sorted(f.name for f in (small.index / VERSIONS / store.version).iterdir())
    assert names == sorted([*FILES, "manifest.json"])
    assert all(n.endswith((".json", ".jsonl", ".faiss", ".npy", ".npz")) for n in names)


def test_loading_with_another_model_is_a_clear_error(small: Settings) -> None:
    Assistant(small, HashEmbedder()).build()
    with pytest.raises(IndexMismatch, match=r"built with the model 'hash-trigrams-64'.*assistant index"):
        load_version(small.index, "multilingual-e5-small")


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="assistant index"):
        load_version(tmp_path / "nowhere")


@pytest.mark.parametrize("name", [*FILES, "manifest.json"])
def test_damaged_files_are_refused(small: Settings, name: str) -> None:
    Assistant(small, HashEmbedder()).build()
    path = small.index / VERSIONS / current_version(small.index) / name  # type: ignore[operator]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexMismatch, match="assistant index"):
        load_version(small.index, "hash-trigrams-64")


def test_a_rebuild_switches_versions_and_keeps_few(small: Settings) -> None:
    assistant = Assistant(small, HashEmbedder())
    versions = [assistant.build().version for _ in range(4)]
    assert current_version(small.index) == versions[-1]
    kept = sorted(p.name for p in (small.index / VERSIONS).iterdir())
    assert versions[-1] in kept and len(kept) <= 2
    assert (small.index / CURRENT).read_text().strip() == versions[-1]
    assert (
        json.loads((small.index / VERSIONS / versions[-1] / "manifest.json").read_text())["index_version"]
        == versions[-1]
    )


def test_deleted_document_is_not_cited_after_rebuild(small: Settings) -> None:
    assistant = Assistant(small, HashEmbedder())
    assistant.build()
    (small.corpus / "fr-french-tech-corporate-community.txt").unlink()
    assistant.build()
    answer = assistant.answer("French Tech Corporate Community 90 entreprises", top_k=20)
    assert {c.document_id for c in answer.citations} == {"en-medef-digital-disruption-lab"}


def test_large_collections_get_an_hnsw_index_with_the_same_answers(small: Settings, tmp_path: Path) -> None:
    exact = Assistant(small, HashEmbedder())
    exact.build()
    approximate_settings = small.model_copy(update={"index": tmp_path / "hnsw-index", "ann_threshold": 1})
    approximate = Assistant(approximate_settings, HashEmbedder())
    approximate.build()
    store = load_version(approximate_settings.index, "hash-trigrams-64")
    assert store.manifest["vector_index"]["kind"] == "hnsw"
    assert load_version(small.index, "hash-trigrams-64").manifest["vector_index"] == {"kind": "flat"}
    for question in ("MEDEF digital countries", "French Tech Corporate Community entreprises"):
        a, b = exact.answer(question), approximate.answer(question)
        assert [c.document_id for c in a.citations] == [c.document_id for c in b.citations]
        assert [c.start for c in a.citations] == [c.start for c in b.citations]


def test_an_hnsw_build_uses_every_core_after_the_service_searched(
    small: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches run FAISS on one thread; that must not make the build in the same process single-threaded."""
    import os

    import faiss

    import assistant.stores.base as store_module

    seen: list[int] = []

    class Recording(faiss.IndexIDMap2):  # type: ignore[misc,name-defined]
        def add_with_ids(self, *args: object) -> None:
            seen.append(faiss.omp_get_max_threads())
            super().add_with_ids(*args)

    monkeypatch.setattr(store_module.faiss, "IndexIDMap2", Recording)
    settings = small.model_copy(update={"index": tmp_path / "hnsw-index", "ann_threshold": 1})
    service = Assistant(settings, HashEmbedder())
    service.build()
    assert service.answer("MEDEF digital").citations  # searches in this thread
    assert faiss.omp_get_max_threads() == 1
    (settings.corpus / "extra.txt").write_text("Trains leave the port of Marseille every hour.", encoding="utf-8")
    service.build()  # as `assistant index` does after a question, or `POST /api/index` in the server
    assert seen == [os.cpu_count() or 1] * 2


def test_builds_within_one_second_keep_the_previous_version(small: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version names order by the second only; the previous version kept must be the one
    written last, not the one whose random suffix sorts last."""
    import assistant.stores.base as store_module

    suffixes = iter(["ffffffff", "eeeeeeee", "dddddddd"])  # each later build sorts first by name
    monkeypatch.setattr(store_module.secrets, "token_hex", lambda n: next(suffixes))
    monkeypatch.setattr(store_module.time, "strftime", lambda fmt, t=None: "20261202T000000Z" if "T" in fmt else "x")
    builder = Assistant(small, HashEmbedder())
    built = [builder.build().version]
    for i in range(2):
        (small.corpus / f"more-{i}.txt").write_text(f"More text number {i} about ports.", encoding="utf-8")
        built.append(builder.build().version)
    kept = sorted(p.name for p in (small.index / VERSIONS).iterdir() if not p.name.startswith("."))
    assert kept == sorted(built[1:])  # the newest two, whatever their names
    assert current_version(small.index) == built[2]
