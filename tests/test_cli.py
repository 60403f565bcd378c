"""The `assistant` command as a user runs it: a real process, the real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from assistant.config import Settings


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300
    )


@pytest.mark.slow
def test_ask_json_crosses_languages_both_ways(built: Settings) -> None:
    env = {"ASSISTANT_INDEX": str(built.index), "ASSISTANT_MODEL_CACHE": str(built.model_cache)}
    out = run("ask", "--json", "Combien de pays l'équipe du MEDEF a-t-elle visités ?", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["citations"][0]["language"] == "en" and "21 countries" in data["citations"][0]["text"]
    assert set(data) >= {"question", "language", "answer", "abstained", "citations", "index_version", "took_ms"}

    out = run("ask", "--json", "How many companies are in the French Tech Corporate Community?", env=env)
    data = json.loads(out.stdout)
    assert data["citations"][0]["language"] == "fr" and "90 entreprises" in data["citations"][0]["text"]

    out = run("ask", "--top-k", "2", "Qui coordonne la French Tech Corporate Community ?", env=env)
    assert out.returncode == 0 and "[1]" in out.stdout and "[3]" not in out.stdout

    # the question's keyword crosses languages as a cognate ("ambassadeur" / "ambassador"): the
    # passage that says who the ambassador is comes first, not another one naming MEDEF more often
    out = run("ask", "--json", "Qui est l'ambassadeur du MEDEF pour le numérique ?", env=env)
    data = json.loads(out.stdout)
    first = data["citations"][0]
    assert first["language"] == "en" and "Olivier Midière, MEDEF’s ambassador for digital" in first["text"]
    assert "ambassadeur" in first["matched_terms"] and data["answer"]["citation"] == 0


def test_index_command_builds_and_reports(tmp_path: Path, model_cache: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "note.md").write_text(
        "# Note\n\nThe meeting moved to Thursday because of the strike.\n", encoding="utf-8"
    )
    (corpus / "broken.txt").write_bytes(b"\xff\xfe\x00bad")
    # three pages that share a long notice, one with little else: its index keeps little of what it shows
    notice = "<p>" + "This manual is published under a free licence and may be copied by anyone. " * 4 + "</p>"
    for name, own in (("a", 40), ("b", 40), ("thin", 3)):
        prose = " ".join(f"Page {name} explains step {i} of the installation." for i in range(own))
        (corpus / f"{name}.html").write_text(f"<html><body><p>{prose}</p>{notice}</body></html>", encoding="utf-8")
    out = run(
        "index",
        "--corpus",
        str(corpus),
        "--index",
        str(tmp_path / "idx"),
        env={"ASSISTANT_MODEL_CACHE": str(model_cache)},
    )
    assert out.returncode == 0, out.stderr
    assert "indexed 4 documents" in out.stdout
    assert "skipped broken.txt" in out.stderr
    # the summary says how much visible text was kept and names the page below the threshold; so does the log
    assert "text kept:" in out.stdout and "1 documents kept less than 60%: thin.html (" in out.stdout
    assert "a.html" not in out.stdout and "thin.html: the index keeps" in out.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ask", ""], "the question is empty"),
        (["ask", "   "], "the question is empty"),
        (["ask", "x" * 2001], "limit is 2000"),
    ],
)
def test_bad_questions_fail_with_a_message(tmp_path: Path, args: list[str], needle: str) -> None:
    out = run(*args, "--index", str(tmp_path))
    assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr


def test_no_index_says_to_run_assistant_index(tmp_path: Path) -> None:
    out = run("ask", "Où est le rapport ?", "--index", str(tmp_path / "none"))
    assert out.returncode == 1 and "assistant index" in out.stderr and "Traceback" not in out.stderr


def test_invalid_settings_are_reported(tmp_path: Path) -> None:
    out = run("ask", "hello", env={"ASSISTANT_TOP_K": "many"})
    assert out.returncode == 1 and "top_k" in out.stderr and "Traceback" not in out.stderr
    out = run("index", "--corpus", str(tmp_path / "missing"))
    assert out.returncode == 1 and "does not exist" in out.stderr


def test_unknown_settings_are_rejected_at_start_up() -> None:
    out = run("ask", "hello", env={"ASSISTANT_TOPK": "3"})
    assert out.returncode == 1 and "ASSISTANT_TOPK" in out.stderr and "ASSISTANT_TOP_K" in out.stderr


@pytest.mark.slow
def test_ready_means_ready_the_port_listens_and_the_first_answer_waits_for_no_model(built: Settings) -> None:
    """Whoever reads the ready line connects at once, and the first question finds the model,
    the reader and the index loaded and run (a reader loaded on first use took seconds)."""
    env = {**os.environ, "ASSISTANT_MODEL_CACHE": str(built.model_cache)}
    command = [sys.executable, "-m", "assistant", "serve", "--corpus", str(built.corpus), "--index", str(built.index)]
    server = subprocess.Popen([*command, "--port", "0"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # blocks until the server says it is ready (or exits)
        assert "assistant ready: open http://localhost:" in line, line
        port = int(line.split("http://localhost:")[1].split("/")[0])
        body = json.dumps({"question": "Combien d'entreprises compte la French Tech Corporate Community ?"})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/answer", body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # no retry: it must listen now
            answer = json.loads(response.read())
        assert answer["citations"] and answer["took_ms"] < 1000, answer["took_ms"]
    finally:
        server.terminate()
        server.communicate(timeout=30)  # and closes the pipe
