"""Rebuilds while serving: the admin endpoint, its key, one rebuild at a time, and watch mode.
(HashEmbedder: these tests are about the index lifecycle, not retrieval quality.)"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.serving.api import create_app
from assistant.serving.assistant import Assistant
from assistant.stores.files import build_lock

from .conftest import CORPUS, HashEmbedder

KEY = "correct-horse-battery-staple"


@pytest.fixture
def served(tmp_path: Path) -> Settings:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = Settings(corpus=tmp_path / "corpus", index=tmp_path / "index", admin_key=KEY)
    Assistant(settings, HashEmbedder()).build()
    return settings


@pytest.fixture
def client(served: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(served, Assistant(served, HashEmbedder()))) as c:
        yield c


def _wait(client: TestClient, timeout: float = 30) -> dict:  # type: ignore[type-arg]
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = client.get("/api/index").json()
        if state["state"] in ("done", "failed"):
            return state  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("the rebuild did not finish")


def test_disabled_without_a_configured_key(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = Settings(corpus=tmp_path / "corpus", index=tmp_path / "index")
    with TestClient(create_app(settings, Assistant(settings, HashEmbedder()))) as c:
        r = c.post("/api/index", headers={"Authorization": "Bearer anything-at-all-here"})
        assert r.status_code == 403 and "ASSISTANT_ADMIN_KEY" in r.json()["detail"]


@pytest.mark.parametrize("header", [None, "Bearer wrong-key-wrong-key", KEY + "x", "Basic " + KEY])
def test_wrong_or_missing_key_is_401(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = client.post("/api/index", headers=headers)
    assert r.status_code == 401 and "admin key" in r.json()["detail"]
    assert client.get("/api/index").json()["state"] == "idle"


def test_rebuild_picks_up_a_new_document(client: TestClient, served: Settings) -> None:
    before = client.get("/api/health").json()["index_version"]
    (served.corpus / "trains.md").write_text("# Trains\n\nHydrogen trains run between Rouen and Caen since 2024.\n")
    (served.corpus / "scan.pdf").write_bytes(b"%PDF-1.4 damaged")
    r = client.post("/api/index", headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 202 and r.json()["state"] == "running"
    state = _wait(client)
    assert state["state"] == "done" and "1 added" in state["summary"] and "1 skipped" in state["summary"]
    assert [s["source"] for s in state["skipped"]] == ["scan.pdf"] and "PDF" in state["skipped"][0]["reason"]
    assert state["version"] != before and state["index_version"] == state["version"]
    answer = client.post("/api/answer", json={"question": "hydrogen trains Rouen Caen"}).json()
    assert answer["index_version"] == state["version"]
    assert "trains" in {c["document_id"] for c in answer["citations"]}


def test_the_index_state_says_how_much_of_each_document_is_indexed(client: TestClient, served: Settings) -> None:
    state = client.get("/api/index").json()
    sources = sorted(p.relative_to(served.corpus).as_posix() for p in served.corpus.rglob("*.txt"))
    assert sorted(k["source"] for k in state["kept"]) == sources and state["kept_below"] == []
    assert all(0.9 <= k["share"] <= 1 and k["kept_words"] > 100 for k in state["kept"])
    # three pages share a long notice (boilerplate); one of them has little else to show
    notice = "<p>" + "This manual is published under a free licence and may be copied by anyone. " * 4 + "</p>"
    for name, own in (("a", 40), ("b", 40), ("thin", 3)):
        prose = " ".join(f"Page {name} explains step {i} of the installation." for i in range(own))
        (served.corpus / f"{name}.html").write_text(f"<html><body><p>{prose}</p>{notice}</body></html>", "utf-8")
    client.post("/api/index", headers={"Authorization": f"Bearer {KEY}"})
    state = _wait(client)
    assert state["state"] == "done" and "1 documents kept less than 60%: thin.html" in state["summary"]
    assert [k["source"] for k in state["kept_below"]] == ["thin.html"] and state["kept_warning"] == 0.6
    assert state["kept_below"][0]["share"] < 0.6 < next(k["share"] for k in state["kept"] if k["source"] == "a.html")


def test_ten_requests_at_once_start_exactly_one_rebuild(client: TestClient, served: Settings) -> None:
    (served.corpus / "more.txt").write_text("Another document so that the rebuild has work to do. " * 50)
    codes: list[int] = []
    barrier = threading.Barrier(10)

    def post() -> None:
        barrier.wait()
        codes.append(client.post("/api/index", headers={"Authorization": f"Bearer {KEY}"}).status_code)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [202] + [409] * 9
    assert _wait(client)["state"] == "done"


def test_a_failed_rebuild_is_reported_and_the_service_keeps_answering(client: TestClient, served: Settings) -> None:
    with build_lock(served.index):  # as if `assistant index` were running
        client.post("/api/index", headers={"Authorization": f"Bearer {KEY}"})
        state = _wait(client)
    assert state["state"] == "failed" and "another build" in state["error"]
    assert client.post("/api/answer", json={"question": "MEDEF"}).status_code == 200


def test_watch_mode_rebuilds_after_changes_settle(served: Settings) -> None:
    with TestClient(create_app(served, Assistant(served, HashEmbedder()), watch_corpus=True)) as c:
        before = c.get("/api/health").json()["index_version"]
        assert c.app.state.watching.wait(30), "the corpus watch did not start"  # type: ignore[attr-defined]
        (served.corpus / "en-medef-digital-disruption-lab.txt").unlink()
        assert c.app.state.rebuilder.finished(1, timeout=60), "no rebuild followed the change"  # type: ignore[attr-defined]
        c.app.state.assistant.settle(timeout=30)  # type: ignore[attr-defined]
        health = c.get("/api/health").json()
        assert health["index_version"] != before and health["documents"] == 1
        assert c.get("/api/index").json()["trigger"] == "watch"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_fails_the_rebuild_not_the_service(
    client: TestClient, served: Settings, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """The disk holding index/ fills up (or turns read-only) during a rebuild: questions keep
    being answered from the served version while the rebuild fails and says why."""
    before = client.post("/api/answer", json={"question": "MEDEF"}).json()["index_version"]
    (served.corpus / "new.txt").write_text("A new document about the Digital Disruption Lab.\n")

    in_build, release = threading.Event(), threading.Event()

    def no_space(fd: int) -> None:
        in_build.set()  # the rebuild has reached its first write; it fails once the test says so
        assert release.wait(30)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", no_space)
    assert client.post("/api/index", headers={"Authorization": f"Bearer {KEY}"}).status_code == 202
    assert in_build.wait(30)
    answers = [client.post("/api/answer", json={"question": "Digital Disruption Lab"}) for _ in range(3)]
    assert client.get("/api/index").json()["state"] == "running"  # they were answered during the rebuild
    release.set()
    state = _wait(client)
    assert state["state"] == "failed" and os.strerror(code) in state["error"]
    assert f"version {before} is unchanged" in state["error"]
    assert all(r.status_code == 200 and r.json()["index_version"] == before for r in answers)
    assert client.post("/api/answer", json={"question": "MEDEF"}).json()["index_version"] == before


def test_shutdown_lets_requests_in_progress_finish(served: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assistant = Assistant(served, HashEmbedder())
    answer = assistant.answer
    started, release = threading.Event(), threading.Event()

    def held_answer(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.set()  # a request in progress when the server is told to stop
        assert release.wait(30)
        return answer(*args, **kwargs)

    monkeypatch.setattr(assistant, "answer", held_answer)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(served, assistant), port=port, log_level="warning", timeout_graceful_shutdown=30)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)  # uvicorn offers no event for "listening"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx.post, f"http://127.0.0.1:{port}/api/answer", json={"question": "MEDEF"}, timeout=30)
        assert started.wait(30)
        server.should_exit = True  # what SIGTERM / Ctrl+C do
        deadline = time.monotonic() + 30
        while True:  # the shutdown has begun once the server stops taking connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                break
            assert time.monotonic() < deadline, "the server kept accepting connections"
            time.sleep(0.05)
        release.set()
        response = pending.result()
    thread.join(timeout=30)
    assert response.status_code == 200 and response.json()["citations"]
    assert not thread.is_alive()
