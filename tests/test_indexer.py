"""Incremental builds, the build lock, and serving while the index changes.

These use the tiny HashEmbedder: they are about keeping the index true to the documents,
not about retrieval quality."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.errors import BuildBusy, IndexMismatch
from assistant.serving.api import create_app
from assistant.serving.assistant import Assistant
from assistant.stores.files import build_lock, current_version, load_version

from .conftest import CORPUS, HashEmbedder


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return Settings(corpus=tmp_path / "corpus", index=tmp_path / "index")


def test_rebuild_embeds_only_what_changed(small: Settings) -> None:
    assistant = Assistant(small, HashEmbedder())
    first = assistant.build()
    assert first.plan.added == sorted(first.plan.added) and len(first.plan.added) == 2
    assert first.reused == 0 and first.embedded == first.passages + first.sentences

    again = assistant.build()
    assert not again.changed and again.version == first.version  # nothing changed: no new version

    (small.corpus / "note.md").write_text("# Note\n\nA new short note about hydrogen trains in Normandy.\n")
    doc = small.corpus / "en-medef-digital-disruption-lab.txt"
    doc.write_text(doc.read_text(encoding="utf-8").replace("21 countries", "22 countries"), encoding="utf-8")
    (small.corpus / "fr-french-tech-corporate-community.txt").unlink()
    plan = assistant.plan()
    assert (plan.added, plan.updated, plan.removed) == (
        ["note"],
        ["en-medef-digital-disruption-lab"],
        ["fr-french-tech-corporate-community"],
    )
    assert current_version(small.index) == first.version  # planning touches nothing

    report = assistant.build()
    assert report.changed and report.version != first.version
    assert 0 < report.embedded < report.reused  # only the changed passage, its sentence and the note
    assert report.passages_embedded == 2  # the changed passage and the note
    assert report.passages_removed == 3  # the changed passage's old text and the deleted document's two
    assert "2 new or changed" in report.passage_summary()
    store = load_version(small.index, "hash-trigrams-64")
    assert set(store.documents) == {"en-medef-digital-disruption-lab", "note"}
    answer = assistant.answer("Combien d'entreprises dans la French Tech Corporate Community ?", top_k=20)
    assert "fr-french-tech-corporate-community" not in {c.document_id for c in answer.citations}


def test_full_rebuild_re_embeds_everything(small: Settings) -> None:
    assistant = Assistant(small, HashEmbedder())
    assistant.build()
    report = assistant.build(full=True)
    assert report.changed and report.reused == 0


def test_a_second_build_is_refused_while_one_runs(small: Settings) -> None:
    with build_lock(small.index), pytest.raises(BuildBusy, match="another build"):
        Assistant(small, HashEmbedder()).build()
    Assistant(small, HashEmbedder()).build()  # free again afterwards


def test_a_killed_builder_does_not_leave_a_stale_lock(small: Settings) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from assistant.stores.files import build_lock\n"
            "with build_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)",
            str(small.index),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(BuildBusy, match="pid"):
            Assistant(small, HashEmbedder()).build()
        holder.kill()
        holder.wait()
        assert Assistant(small, HashEmbedder()).build().changed
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout:
            holder.stdout.close()


def test_serving_follows_rebuilds_without_failures(small: Settings) -> None:
    """Clients query continuously while documents change and the index is rebuilt twice:
    no request fails, and every citation quotes the version its response names."""
    serving = Assistant(small, HashEmbedder())
    serving.build()
    texts: dict[str, dict[str, str]] = {}

    def remember() -> str:
        store = load_version(small.index, "hash-trigrams-64")
        texts[store.version] = {d.id: d.text for d in store.documents.values()}
        return store.version

    first = remember()
    stop = threading.Event()
    answered = threading.Condition()
    responses: list[dict] = []  # type: ignore[type-arg]
    failures: list[str] = []
    with TestClient(create_app(small, serving)) as client:

        def ask() -> None:
            while not stop.is_set():
                r = client.post("/api/answer", json={"question": "digital companies France", "top_k": 5})
                with answered:
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                    else:
                        responses.append(r.json())
                    answered.notify_all()

        def answered_from(version: str) -> bool:
            """Wait until a client got an answer from `version` (the server follows the rebuild)."""
            with answered:
                return answered.wait_for(lambda: any(r["index_version"] == version for r in responses), timeout=60)

        workers = [threading.Thread(target=ask) for _ in range(4)]
        for w in workers:
            w.start()
        builder = Assistant(small, HashEmbedder())  # as `assistant index` would, from elsewhere
        assert answered_from(first)
        (small.corpus / "extra.txt").write_text("Digital companies in France hire more engineers every year.")
        builder.build()
        assert answered_from(remember())
        (small.corpus / "en-medef-digital-disruption-lab.txt").unlink()
        builder.build()
        assert answered_from(remember())
        stop.set()
        for w in workers:
            w.join()
    assert failures == []
    versions = {r["index_version"] for r in responses}
    assert len(versions) == 3, "the server switched versions while serving"
    for r in responses:
        docs = texts[r["index_version"]]
        for c in r["citations"]:
            assert docs[c["document_id"]][c["start"] : c["end"]] == c["text"]


def test_dry_run_from_the_command_line(small: Settings) -> None:
    env = {**os.environ, "ASSISTANT_CORPUS": str(small.corpus), "ASSISTANT_INDEX": str(small.index)}
    out = subprocess.run(
        [sys.executable, "-m", "assistant", "index", "--dry-run"], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "would add en-medef-digital-disruption-lab" in out.stdout and "2 added" in out.stdout
    assert current_version(small.index) is None


def test_a_damaged_new_version_does_not_replace_the_served_one(small: Settings) -> None:
    serving = Assistant(small, HashEmbedder())
    first = serving.build()
    assert serving.answer("MEDEF digital").index_version == first.version
    (small.corpus / "new.txt").write_text("A new document about hydrogen trains.", encoding="utf-8")
    second = Assistant(small, HashEmbedder()).build()
    vectors = small.index / "versions" / second.version / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])  # truncated after the switch
    answer = serving.answer("MEDEF digital")
    assert answer.index_version == first.version and answer.citations  # still serving the good one
    fresh = Assistant(small, HashEmbedder())
    with pytest.raises(IndexMismatch, match="assistant index"):  # a new process refuses it with the fix
        fresh.store()
    third = Assistant(small, HashEmbedder()).build()  # the fix the message gives: `assistant index`
    assert third.changed
    serving.settle(timeout=60)  # the service loads it in the background, then answers from it
    assert serving.answer("MEDEF digital").index_version == third.version


def test_the_embedding_cache_keeps_only_the_current_and_previous_versions(small: Settings) -> None:
    from assistant.indexing.indexer import embedding_cache
    from assistant.models.embedding_cache import cache_size

    builder = Assistant(small, HashEmbedder())
    page = small.corpus / "page.txt"
    texts = [
        " ".join(f"Version {v}, sentence {i}: the {v} train leaves platform {i} at {i} o'clock." for i in range(400))
        for v in ("one", "two", "three")
    ]
    page.write_text(texts[0], encoding="utf-8")
    builder.build()
    grown = cache_size(embedding_cache(small.index))
    for text in texts[1:]:
        page.write_text(text, encoding="utf-8")
        builder.build()
    # the previous version's vectors are still there: going back to it embeds nothing
    page.write_text(texts[1], encoding="utf-8")
    assert builder.build().embedded == 0
    # the version before it was dropped from the cache: coming back to it embeds again
    page.write_text(texts[0], encoding="utf-8")
    assert builder.build().embedded > 0
    # and the file shrinks once most of it is unused
    page.unlink()
    builder.build()
    page.write_text("A short page.", encoding="utf-8")
    builder.build()
    assert cache_size(embedding_cache(small.index)) < grown / 2
    with TestClient(create_app(small, builder)) as client:
        state = client.get("/api/index").json()
    assert state["embedding_cache_bytes"] == cache_size(embedding_cache(small.index)) > 0
