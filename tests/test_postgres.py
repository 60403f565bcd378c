"""The PostgreSQL store (ASSISTANT_STORE) on a real PostgreSQL 16 with pgvector, started by the
tests (pgserver): the same answers as the file store, replicas that follow a rebuild made
elsewhere without a failed request, a builder killed with SIGKILL, one build at a time across
processes, lost connections, and bad URLs.

Lifecycle tests use the tiny HashEmbedder (they are about versions, not retrieval); the parity
test uses the real model."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

import assistant.stores.postgres_build as postgres_build
from assistant.config import Settings
from assistant.errors import BuildBusy, IndexWriteError
from assistant.models.embedding import Embedder
from assistant.serving.api import create_app
from assistant.serving.assistant import Assistant
from assistant.stores import follower
from assistant.stores.postgres import PostgresStore

from .conftest import CORPUS, ROOT, HashEmbedder, live

KEY = "correct-horse-battery-staple"
QUESTIONS = [
    "How many countries did the French Tech Corporate Community visit?",
    "Combien d'entreprises compte la French Tech Corporate Community ?",
    "What is the Digital Disruption Lab?",
    "Qui préside le MEDEF ?",
    "What is the annual budget of the Digital Disruption Lab?",
]


@pytest.fixture
def database(postgres: Callable[[], str]) -> str:
    return postgres()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path / "corpus"


def _settings(corpus: Path, index: Path, url: str, **more: object) -> Settings:
    return Settings(corpus=corpus, index=index, store=url, **more)  # type: ignore[arg-type]


def _schemas(url: str) -> tuple[set[str], set[str]]:
    """Version schemas in the database, and the versions its table lists (as schema names)."""
    with psycopg.connect(url) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'assistant_v%'")}
        listed = {
            "assistant_v" + r[0].lower().replace("-", "_") for r in conn.execute("SELECT name FROM assistant.versions")
        }
    return schemas, listed


def _builder(corpus: Path, index: Path, url: str, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.pg_build", str(corpus), str(index), url, mode],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_answers_are_those_of_the_file_store(built: Settings, embedder: Embedder, database: str) -> None:
    """Same corpus, same model: the same citations, scores, answer sentences and abstentions,
    with exact search and with pgvector's HNSW index."""
    files = Assistant(built, embedder)
    for threshold in (100_000, 1):  # exact below the threshold, HNSW from it on
        settings = _settings(built.corpus, built.index, database, ann_threshold=threshold)
        pg = Assistant(settings, embedder)
        report = pg.build(full=True)
        spec = pg.store().manifest["vector_index"]
        assert report.changed and spec["kind"] == ("flat" if threshold > 1 else "hnsw")
        assert threshold > 1 or spec["ef_construction"] == 128
        for question in QUESTIONS:
            a, b = files.answer(question), pg.answer(question)
            assert [(c.document_id, c.start, c.end) for c in a.citations] == [
                (c.document_id, c.start, c.end) for c in b.citations
            ], question
            assert [c.score for c in b.citations] == pytest.approx([c.score for c in a.citations], abs=1e-4)
            assert (a.abstained, a.answer) == (b.abstained, b.answer), question
            assert b.confidence == pytest.approx(a.confidence, abs=1e-3)
            assert b.index_version == report.version
        pg.index_store.close()
    with psycopg.connect(database) as conn:
        indexes = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE indexdef ILIKE '%hnsw%'")]
    # built as wide as pgvector needs for the recall FAISS gets (PG_MIN_EF_CONSTRUCTION), and recorded
    assert indexes and "vector_ip_ops" in indexes[0] and "ef_construction='128'" in indexes[0]


def test_table_rows_keep_their_column_names_in_the_database(tmp_path: Path, database: str) -> None:
    from .test_passages import TABLES

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "network.md").write_text(TABLES, encoding="utf-8")
    files = Assistant(Settings(corpus=tmp_path / "docs", index=tmp_path / "files"), HashEmbedder())
    pg = Assistant(_settings(tmp_path / "docs", tmp_path / "pg", database), HashEmbedder())
    files.build()
    pg.build()
    saved = [s for p in pg.store().passages for s in p.sentences]
    assert saved == [s for p in files.store().passages for s in p.sentences]
    assert sum(s.header is not None for s in saved) == 2  # the two rows under "| old | new | purpose |"
    pg.index_store.close()


def test_an_incremental_build_elsewhere_reuses_the_database_vectors(
    tmp_path: Path, corpus: Path, database: str
) -> None:
    first = Assistant(_settings(corpus, tmp_path / "one", database), HashEmbedder()).build()
    (corpus / "trains.txt").write_text("A new document about trains and railways in France.", encoding="utf-8")
    # another machine: its own (empty) embedding cache, the same database
    report = Assistant(_settings(corpus, tmp_path / "two", database), HashEmbedder()).build()
    assert report.plan.added == ["trains"] and report.plan.unchanged
    assert report.reused >= first.passages and report.embedded <= 2


def test_replicas_follow_a_rebuild_made_elsewhere_without_a_failed_request(
    tmp_path: Path, corpus: Path, database: str
) -> None:
    """Two servers on one database, questions without pause, a rebuild in a third process:
    both switch from version N to N+1, and every request gets an answer."""
    first = Assistant(_settings(corpus, tmp_path / "builder", database), HashEmbedder()).build()
    replicas = [Assistant(_settings(corpus, tmp_path / f"replica-{i}", database), HashEmbedder()) for i in (0, 1)]
    seen: dict[str, list[str]] = {}
    failures: list[str] = []
    stop = threading.Event()

    def ask(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                r = client.post("/api/answer", json={"question": "digital companies in France"})
                if r.status_code != 200:
                    failures.append(f"{url}: {r.status_code} {r.text[:200]}")
                else:
                    seen.setdefault(url, []).append(r.json()["index_version"])

    with live(replicas[0].settings, replicas[0]) as one, live(replicas[1].settings, replicas[1]) as two:
        # one first request each, in turn: FastAPI 0.165 builds a route's validators lazily, and two
        # apps sharing one router in one process (only here, never in a deployment) race on it
        for url in (one, two):
            assert httpx.post(f"{url}/api/answer", json={"question": "digital"}, timeout=30).status_code == 200
        askers = [threading.Thread(target=ask, args=(u,)) for u in (one, two, one, two)]
        for t in askers:
            t.start()
        try:
            (corpus / "trains.txt").write_text("A new document about trains and railways in France.", encoding="utf-8")
            builder = _builder(corpus, tmp_path / "builder", database, "once")
            assert builder.stdout is not None
            new = builder.stdout.readline().strip()
            _, err = builder.communicate(timeout=120)  # and closes the pipes
            assert builder.returncode == 0 and new, err
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(seen.get(u, [""])[-1] == new for u in (one, two)):
                time.sleep(0.05)
        finally:
            stop.set()
            for t in askers:
                t.join()
    assert not failures
    for url in (one, two):
        versions = seen[url]
        assert versions[0] == first.version and versions[-1] == new, url
        switched = versions.index(new)
        assert set(versions[switched:]) == {new}, "a replica went back to the old version"


def test_a_builder_killed_with_sigkill_leaves_the_previous_version_and_no_garbage(
    tmp_path: Path, corpus: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(corpus, tmp_path / "index", database)
    began = time.perf_counter()
    Assistant(settings, HashEmbedder()).build()
    window = 3 * (time.perf_counter() - began)
    rng = random.Random(0)
    versions_seen = set()
    for _ in range(8):
        builder = _builder(corpus, tmp_path / "index", database, "loop")
        time.sleep(rng.uniform(0.0, window))
        builder.send_signal(signal.SIGKILL)
        builder.communicate()
        service = Assistant(settings, HashEmbedder())
        store = service.store()  # the version `current` names loads whole
        assert len(store.passages) == store.manifest["passage_count"] and len(store.documents) == 2
        assert service.answer("digital companies").citations
        schemas, listed = _schemas(database)
        assert schemas == listed, "a killed build left a schema behind"
        # current and previous, plus at most one older that the last build, killed right after
        # its switch, had no time to drop (the next build drops it before writing)
        assert len(listed) <= 3
        versions_seen.add(store.version)
        deadline = time.monotonic() + 10  # the server notices the lost connection and frees the lock
        while service.index_store.building():
            assert time.monotonic() < deadline, "the killed builder's lock was never released"
            time.sleep(0.05)
        service.index_store.close()
    assert len(versions_seen) > 1, "some builds completed between the kills"
    monkeypatch.setattr(postgres_build, "GRACE_SECONDS", 0.0)
    report = Assistant(settings, HashEmbedder()).build(full=True)
    assert report.changed and len(_schemas(database)[0]) == 2


def test_one_build_at_a_time_across_processes(tmp_path: Path, corpus: Path, database: str) -> None:
    settings = _settings(corpus, tmp_path / "index", database, admin_key=KEY)
    Assistant(settings, HashEmbedder()).build()
    holder = PostgresStore(database)
    with holder.lock():  # as if a build ran on another machine
        with pytest.raises(BuildBusy, match="another build"):
            Assistant(settings, HashEmbedder()).build(full=True)
        cli = subprocess.run(
            [sys.executable, "-m", "assistant", "index", "--full"],
            cwd=tmp_path,
            env={**os.environ, "ASSISTANT_STORE": database, "ASSISTANT_CORPUS": str(corpus)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert cli.returncode == 1 and "another build" in cli.stderr and "Traceback" not in cli.stderr
        with TestClient(create_app(settings, Assistant(settings, HashEmbedder()))) as client:
            r = client.post("/api/index", headers={"Authorization": f"Bearer {KEY}"})
            assert r.status_code == 409 and "another build" in r.json()["detail"]
            assert client.post("/api/answer", json={"question": "MEDEF"}).status_code == 200
    holder.close()
    assert Assistant(settings, HashEmbedder()).build(full=True).changed  # free again


def _cut(database: str, allow: bool) -> None:
    """Close every connection of the assistant to `database`; with allow=False, refuse new ones."""
    name = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
    admin = database.replace(f"/{name}?", "/postgres?")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'true' if allow else 'false'}")
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


@pytest.fixture
def served(tmp_path: Path, corpus: Path, database: str) -> Iterator[TestClient]:
    settings = _settings(corpus, tmp_path / "index", database)
    Assistant(settings, HashEmbedder()).build()
    with TestClient(create_app(settings, Assistant(settings, HashEmbedder()))) as client:
        yield client


def test_a_lost_connection_is_retried_and_an_unreachable_database_is_a_clear_503(
    served: TestClient, database: str
) -> None:
    assert served.post("/api/answer", json={"question": "MEDEF"}).status_code == 200
    _cut(database, allow=True)  # connections killed (a restart, a failover): retried on new ones
    assert served.post("/api/answer", json={"question": "MEDEF"}).status_code == 200
    _cut(database, allow=False)  # the database is away
    try:
        r = served.post("/api/answer", json={"question": "MEDEF"})
        assert r.status_code == 503 and r.headers["retry-after"]
        assert "cannot be reached" in r.json()["detail"] and "password" not in r.json()["detail"]
    finally:
        _cut(database, allow=True)
    assert served.post("/api/answer", json={"question": "MEDEF"}).status_code == 200  # recovered by itself


class _Ticks(threading.Event):
    """An event whose waits return at once and which sets itself after `count` of them: the
    follower's back-off without the waiting."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.left = count

    def wait(self, timeout: float | None = None) -> bool:
        self.left -= 1
        if self.left <= 0:
            self.set()
        return self.is_set()


class _Owner:
    _current: str | None = None
    on_switch = None


def test_an_outage_is_logged_once_not_at_every_retry(caplog: pytest.LogCaptureFixture) -> None:
    owner = _Owner()
    with caplog.at_level("DEBUG", logger="assistant.stores.follower"):
        # port 1 refuses at once: five connection attempts, one outage
        follower.follow(weakref.ref(owner), "postgresql://nobody@127.0.0.1:1/assistant", "assistant", _Ticks(5))  # type: ignore[arg-type]
    said = [r for r in caplog.records if "following index versions" in r.getMessage()]
    assert len(said) == 5 and "refused" in said[0].getMessage().lower()
    assert [r.levelname for r in said] == ["WARNING"] + ["DEBUG"] * 4


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://user@localhost/assistant", "must be a PostgreSQL URL"),
        ("postgresql://nobody:secret-password@127.0.0.1:1/assistant", "cannot be reached"),
    ],
)
def test_a_bad_store_url_is_refused_at_start_with_a_clear_message(tmp_path: Path, url: str, expected: str) -> None:
    cli = subprocess.run(
        [sys.executable, "-m", "assistant", "serve", "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, "ASSISTANT_STORE": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode != 0 and expected in cli.stderr
    assert "Traceback" not in cli.stderr and "secret-password" not in cli.stderr


def test_a_server_can_answer_from_a_read_only_database(tmp_path: Path, corpus: Path, database: str) -> None:
    """As from a streaming replica: the server writes nothing, follows versions, answers."""
    settings = _settings(corpus, tmp_path / "index", database)
    Assistant(settings, HashEmbedder()).build()
    name = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    replica = Assistant(settings, HashEmbedder())
    answer = replica.answer("digital companies")
    assert answer.citations and answer.index_version == replica.index_store.current_version(cached=True)


def test_a_build_that_loses_its_connection_changes_nothing(
    tmp_path: Path, corpus: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(corpus, tmp_path / "index", database)
    first = Assistant(settings, HashEmbedder()).build()
    copy_rows = postgres_build.copy_rows

    def lose_connection(conn: psycopg.Connection, *rest: object) -> None:  # type: ignore[type-arg]
        with psycopg.connect(database, autocommit=True) as other:  # the network drops, the server restarts...
            other.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        copy_rows(conn, *rest)  # type: ignore[arg-type]

    with monkeypatch.context() as patched:
        patched.setattr(postgres_build, "copy_rows", lose_connection)
        with pytest.raises(IndexWriteError, match=r"could not be updated .* the version it serves is unchanged"):
            Assistant(settings, HashEmbedder()).build(full=True)
    assert Assistant(settings, HashEmbedder()).store().version == first.version
    schemas, listed = _schemas(database)
    assert schemas == listed and len(listed) == 1


def test_an_idle_server_switches_to_a_version_built_elsewhere_without_being_asked(
    tmp_path: Path, corpus: Path, database: str
) -> None:
    """The follower loads the new version as soon as it is current: the next question, however
    late, is answered from it at once."""
    settings = _settings(corpus, tmp_path / "index", database)
    first = Assistant(settings, HashEmbedder()).build()
    replica = Assistant(_settings(corpus, tmp_path / "replica", database), HashEmbedder())
    assert replica.answer("digital companies").index_version == first.version
    (corpus / "trains.txt").write_text("A new document about trains and railways in France.", encoding="utf-8")
    builder = _builder(corpus, tmp_path / "builder", database, "once")
    assert builder.stdout is not None
    new = builder.stdout.readline().strip()
    builder.communicate(timeout=120)
    deadline = time.monotonic() + 30
    while replica.versions.loaded is None or replica.versions.loaded.version != new:  # no question asked meanwhile
        assert time.monotonic() < deadline, "the idle server did not load the new version"
        time.sleep(0.05)
    assert replica.answer("trains and railways").index_version == new
