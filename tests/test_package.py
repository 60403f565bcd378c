"""The wheel: a non-editable install serves the chat page and carries the reader's weights."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from assistant.config import Settings

from .conftest import ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read()


def test_an_installed_wheel_serves_the_chat_page(tmp_path: Path, built: Settings) -> None:
    pytest.importorskip("hatchling", reason="hatchling (a test dependency) builds the wheel")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("assistant-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"assistant/web/index.html", "assistant/web/app.js", "assistant/models/data/reader.safetensors"} <= names
    # the MIT licence and the third-party notices (model weights, training data) travel with it
    licences = {n.rsplit("/", 1)[-1] for n in names if ".dist-info/licenses/" in n}
    assert {"LICENSE", "NOTICE.md"} <= licences
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # run from elsewhere, with the installed copy first on the path: no source checkout to fall back on
    env = {**os.environ, "PYTHONPATH": str(site), "ASSISTANT_MODEL_CACHE": str(built.model_cache)}
    where = subprocess.run(
        [sys.executable, "-c", "import assistant; print(assistant.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    serve = [sys.executable, "-m", "assistant", "serve", "--corpus", str(built.corpus), "--index", str(built.index)]
    proc = subprocess.Popen([*serve, "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if _get(f"{url}/api/health")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "the installed server did not start within 180 s"
                time.sleep(0.5)  # polling a port that is not open yet: there is no event to wait on
        status, page = _get(url + "/")
        assert status == 200 and b'<textarea id="question"' in page
        assert _get(url + "/app.js")[1] == (ROOT / "web" / "app.js").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
