"""Document formats: text, Markdown, HTML, PDF (with pages) and DOCX; bad files are reported, not fatal."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF

from assistant.config import Settings
from assistant.ingest.documents import load_corpus
from assistant.serving.api import create_app
from assistant.serving.assistant import Assistant

from .conftest import HashEmbedder


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "reports").mkdir(parents=True)
    pdf = FPDF()
    pdf.set_title("Rapport portuaire 2023")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Le port de Rouen a traite 22 millions de tonnes en 2022. Les cereales dominent le trafic.")
    pdf.add_page()
    pdf.multi_cell(0, 8, "The second page is about containers. Container traffic remains modest in Rouen.")
    pdf.output(str(root / "reports" / "rapport.pdf"))
    word = docx.Document()
    word.add_heading("Hydrogen trains", level=1)
    word.add_paragraph("Hydrogen trains run between Rouen and Caen since 2024.")
    word.save(str(root / "trains.docx"))
    (root / "news.html").write_text(
        "<html><head><title>Port news</title><style>p {color: red}</style><script>alert('x')</script></head>"
        "<body><h1>News</h1><p>The port of Le Havre grew by 5% in 2023.</p><p>Cruises &amp; ferries recovered.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (root / "broken.docx").write_bytes(b"PK not a zip")
    (root / "empty.html").write_text("<html><script>only()</script></html>", encoding="utf-8")
    return root


def test_each_format_gives_text_title_and_pages(mixed: Path) -> None:
    corpus = load_corpus(mixed)
    docs = {d.id: d for d in corpus.documents}
    assert set(docs) == {"reports-rapport", "trains", "news"}
    pdf = docs["reports-rapport"]
    assert pdf.title == "Rapport portuaire 2023" and len(pdf.pages) == 2
    assert pdf.text[pdf.pages[1] :].startswith("The second page")
    assert docs["trains"].title == "Hydrogen trains" and "since 2024" in docs["trains"].text
    news = docs["news"]
    assert news.title == "Port news" and "Le Havre grew by 5%" in news.text and "Cruises & ferries" in news.text
    assert "alert" not in news.text and "color" not in news.text
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert set(reasons) == {"broken.pdf", "broken.docx", "empty.html"}
    assert "PDF" in reasons["broken.pdf"] and "DOCX" in reasons["broken.docx"] and "empty" in reasons["empty.html"]


def test_pdf_citations_carry_their_page(mixed: Path, tmp_path: Path) -> None:
    settings = Settings(corpus=mixed, index=tmp_path / "index", passage_min_words=5, passage_max_words=20)
    assistant = Assistant(settings, HashEmbedder())
    report = assistant.build()
    assert {s.source for s in report.skipped} == {"broken.pdf", "broken.docx", "empty.html"}
    answer = assistant.answer("container traffic modest Rouen second page", top_k=10)
    pages = {c.text[:20]: c.page for c in answer.citations if c.document_id == "reports-rapport"}
    assert pages.get("The second page is a") == 2
    assert any(page == 1 for page in pages.values())
    assert all(c.page is None for c in answer.citations if c.document_id != "reports-rapport")


def _corpus_with_links_out(tmp_path: Path) -> tuple[Path, Path]:
    """A corpus with one document and two links out of it (a file, a folder); (corpus, secret)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret outside the corpus", encoding="utf-8")
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "inside.txt").write_text("A document inside the corpus.", encoding="utf-8")
    (root / "leak.txt").symlink_to(secret)
    (root / "escape").symlink_to(tmp_path, target_is_directory=True)
    return root, secret


def test_links_out_of_the_corpus_are_not_followed(tmp_path: Path) -> None:
    root, _ = _corpus_with_links_out(tmp_path)
    corpus = load_corpus(root)
    assert [d.source for d in corpus.documents] == ["inside.txt"]
    assert corpus.skipped[0].source == "leak.txt" and "outside" in corpus.skipped[0].reason


def test_the_documents_endpoint_serves_indexed_documents_only(tmp_path: Path) -> None:
    """Links inside corpus/ that lead outside it, and path tricks, never reach a file."""
    corpus, secret = _corpus_with_links_out(tmp_path)
    settings = Settings(corpus=corpus, index=tmp_path / "index")
    embedder = HashEmbedder()
    Assistant(settings, embedder).build()
    with TestClient(create_app(settings, Assistant(settings, embedder))) as client:
        assert [d["id"] for d in client.get("/api/documents").json()] == ["inside"]
        for path in (
            "leak",
            "leak.txt",
            "escape%2Fsecret",
            "..%2Fsecret.txt",
            "%2e%2e%2fsecret",
            "%2F" + str(secret).lstrip("/").replace("/", "%2F"),
            "inside%00.txt",
        ):
            r = client.get(f"/api/documents/{path}")
            assert r.status_code == 404, path
            assert "top secret" not in r.text
        answer = client.post("/api/answer", json={"question": "top secret outside the corpus"}).json()
        assert all("top secret" not in c["text"] for c in answer["citations"])
