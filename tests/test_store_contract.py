"""The store contract, the same tests against both stores: index versions as files in a folder
(`FileStore`) and in a real PostgreSQL 16 with pgvector (`PostgresStore`, through pgserver).

Each test says what a user relies on whatever the store: a build is saved whole and loads as
it was, a rebuild switches at once, a damaged version is refused, one build runs at a time,
and a serving assistant follows a version built by another. Only how a version gets damaged
is the store's own (a file cut short, a row deleted). The tiny HashEmbedder is used: these
tests are about storage, not retrieval quality.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from assistant.config import Settings
from assistant.errors import BuildBusy, IndexMismatch, IndexMissing
from assistant.serving.assistant import Assistant
from assistant.stores.base import KEEP_VERSIONS, Store, manifest_digest
from assistant.stores.files import VERSIONS
from assistant.stores.pgsql import version_schema

from .conftest import CORPUS, HashEmbedder

WAIT = 60  # seconds a test waits for a version to load before it fails (never reached when things work)
NEW_DOCUMENT = "trains.txt"


@pytest.fixture(params=["files", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    url = request.getfixturevalue("postgres")() if request.param == "postgres" else None
    return Settings(corpus=tmp_path / "corpus", index=tmp_path / "index", store=url, reader=False)


def _assistant(settings: Settings) -> Assistant:
    return Assistant(settings, HashEmbedder())


def _add_document(settings: Settings) -> None:
    (settings.corpus / NEW_DOCUMENT).write_text(
        "Trains leave the port of Marseille every hour for Lyon and Paris.", encoding="utf-8"
    )


# --- how each store's version gets damaged (the only store-specific part) ---------------


def _cut_rows(settings: Settings, version: str) -> None:
    """Passages lost after the build: a file cut short, or a row deleted."""
    if settings.store is None:
        path = settings.index / VERSIONS / version / "passages.jsonl"
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return
    with psycopg.connect(settings.store) as conn:
        table = sql.Identifier(version_schema(settings.store_schema, version), "passages")
        conn.execute(sql.SQL("DELETE FROM {} WHERE row = (SELECT max(row) FROM {})").format(table, table))


def _edit_manifest(settings: Settings, version: str) -> None:
    """The manifest edited after the build (its digest no longer matches)."""
    if settings.store is None:
        path = settings.index / VERSIONS / version / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["passage_count"] += 1
        path.write_text(json.dumps(manifest), encoding="utf-8")
        return
    with psycopg.connect(settings.store) as conn:
        conn.execute(
            sql.SQL(
                "UPDATE {} SET manifest = jsonb_set(manifest, '{{passage_count}}', "
                "to_jsonb((manifest->>'passage_count')::int + 1)) WHERE name = %s"
            ).format(sql.Identifier(settings.store_schema, "versions")),
            (version,),
        )


DAMAGE: dict[str, Callable[[Settings, str], None]] = {"rows": _cut_rows, "manifest": _edit_manifest}


# --- the contract ---------------------------------------------------------------------


def test_a_saved_version_loads_as_it_was_built(settings: Settings) -> None:
    builder = _assistant(settings)
    report = builder.build()
    store: Store = builder.index_store
    loaded = store.load("hash-trigrams-64")
    assert loaded.version == report.version == store.current_version()
    assert len(loaded.passages) == loaded.manifest["passage_count"] == report.passages > 0
    assert loaded.manifest["model"] == {"identity": "hash-trigrams-64", "dimension": 64, "normalized": True}
    assert loaded.manifest["manifest_sha256"] == manifest_digest(loaded.manifest)
    documents = {p.stem for p in CORPUS.iterdir() if p.suffix != ".json"}  # metadata.json describes them
    assert set(loaded.documents) == documents
    for row, p in enumerate(loaded.passages):  # every passage is the exact span of its document
        assert loaded.documents[p.doc_id].text[p.start : p.end] == p.text
        assert loaded.sentence_vectors_of(row).shape[0] == len(p.sentences)
    assert loaded.search(loaded.passage_vector(0), 1)[0][0] == 0  # a passage is its own nearest
    assert store.verify_current()


def test_an_empty_store_says_how_to_build_an_index(settings: Settings) -> None:
    store = _assistant(settings).index_store
    assert store.current_version() is None and not store.verify_current()
    with pytest.raises(IndexMissing, match="assistant index"):
        store.load("hash-trigrams-64")


def test_a_version_of_another_model_is_refused_clearly(settings: Settings) -> None:
    builder = _assistant(settings)
    builder.build()
    with pytest.raises(IndexMismatch, match=r"built with the model 'hash-trigrams-64'.*assistant index"):
        builder.index_store.load("multilingual-e5-small")


def test_a_rebuild_switches_at_once_and_the_previous_version_stays_readable(settings: Settings) -> None:
    """Servers still reading the previous version finish their questions on it."""
    builder = _assistant(settings)
    first = builder.build().version
    _add_document(settings)
    second = builder.build().version
    store = builder.index_store
    assert second != first and store.current_version() == second
    assert "trains" in store.load("hash-trigrams-64").documents
    assert "trains" not in store.load("hash-trigrams-64", first).documents
    assert KEEP_VERSIONS >= 2
    (settings.corpus / NEW_DOCUMENT).unlink()
    third = builder.build().version
    assert store.current_version() == third and "trains" not in store.load("hash-trigrams-64").documents
    assert "trains" in store.load("hash-trigrams-64", second).documents


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_version_is_refused_with_what_to_do(settings: Settings, damage: str) -> None:
    builder = _assistant(settings)
    version = builder.build().version
    DAMAGE[damage](settings, version)
    store = _assistant(settings).index_store  # a process that starts on the damaged version
    with pytest.raises(IndexMismatch, match="assistant index"):
        store.load("hash-trigrams-64")
    if damage == "manifest":
        assert not store.verify_current()


def test_one_build_at_a_time_and_the_waiting_one_changes_nothing(settings: Settings) -> None:
    first = _assistant(settings).build().version
    holder = _assistant(settings).index_store
    _add_document(settings)
    with holder.lock():
        with pytest.raises(BuildBusy, match=r"another build .* is running.*try again"):
            _assistant(settings).build()
        assert holder.current_version() == first
    second = _assistant(settings).build().version  # the lock released, the next build runs
    assert second != first and "trains" in _assistant(settings).store().documents


def test_a_serving_assistant_follows_a_version_built_by_another(settings: Settings) -> None:
    serving = _assistant(settings)
    first = serving.build().version
    assert serving.answer("MEDEF digital").index_version == first
    _add_document(settings)
    second = _assistant(settings).build().version  # another process's builder, as `assistant index`
    assert serving.settle(timeout=WAIT).version == second
    answer = serving.answer("Trains Marseille Lyon Paris")
    assert answer.index_version == second
    assert answer.citations[0].document_id == "trains"


def test_a_damaged_new_version_leaves_the_served_one_answering(settings: Settings) -> None:
    serving = _assistant(settings)
    first = serving.build().version
    # The server learns of the switch when it next looks, as a file store's server does at its
    # next question: a database follower told at once would rightly load it whole before the damage.
    serving.index_store.on_switch = None
    _add_document(settings)
    second = _assistant(settings).build().version
    _cut_rows(settings, second)
    for _ in range(3):  # refused once, and the version served keeps answering
        serving.settle(timeout=WAIT)
        answer = serving.answer("MEDEF digital")
        assert answer.index_version == first and answer.citations
