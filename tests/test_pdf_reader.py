"""PDF through PDFium: words spaced as printed, line-end hyphens removed, the outline as headings,
running headers left out of passages, a page on every citation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fpdf import FPDF

from assistant.config import Settings
from assistant.indexing.indexer import make_passages
from assistant.ingest.documents import load_corpus
from assistant.ingest.readers.pdf import read_pdf

from .conftest import REALDOCS

REAL_PDF = REALDOCS / "pdf" / "debian-reference.fr.pdf"

SECTIONS = [
    ("1. Démarrage", "Le système démarre en quatre étapes. Le chargeur initial lit sa configuration."),
    ("2. Réseau", "Les interfaces réseau sont configurées par un service dédié au démarrage du système."),
    ("3. Paquets", "Les paquets se gèrent avec apt. Il existe deux méthodes pour associer le fichier."),
]


class _Book(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", size=9)
        self.cell(0, 6, f"Guide de test {self.page_no()} / 9", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=9)
        self.cell(0, 6, "Manuel d'exemple", align="C")


def _book(path: Path) -> None:
    pdf = _Book()
    pdf.set_title("Guide de test")
    for title, body in SECTIONS:
        pdf.add_page()
        pdf.set_font("Helvetica", size=16)
        pdf.start_section(title)
        pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, (body + " ") * 4, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(
            0, 6, "Une ligne coupée en fin de ligne par un trait d'union: confi-", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.multi_cell(0, 6, "guration terminée.", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def test_pdf_text_outline_and_running_headers(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _book(corpus / "guide.pdf")
    doc = load_corpus(corpus).documents[0]
    assert doc.title == "Guide de test" and len(doc.pages) == 3
    headings = [(b.level, doc.text[b.start : b.end]) for b in doc.blocks if b.kind == "heading"]
    assert headings == [(1, title) for title, _ in SECTIONS]
    assert "Il existe deux méthodes pour associer le fichier" in doc.text
    assert "configuration terminée" in doc.text and "confi-" not in doc.text
    passages = make_passages([doc], Settings(passage_min_words=10, passage_max_words=60))
    assert {p.section for p in passages} == {title for title, _ in SECTIONS}
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        assert "Guide de test" not in p.text and "Manuel d'exemple" not in p.text, p.text
        assert doc.page_at(p.start) in (1, 2, 3)
    by_section = {p.section: doc.page_at(p.start) for p in passages}
    assert by_section == {"1. Démarrage": 1, "2. Réseau": 2, "3. Paquets": 3}


def test_an_outline_title_without_its_number_finds_its_numbered_heading(tmp_path: Path) -> None:
    # LaTeX writes the bookmark without the number the page prints ("Le système de courrier" /
    # "6.2 Le système de courrier"); a short first word is not a number to strip
    pdf = _Book()
    for bookmark, printed in (
        ("Le système de courrier", "6.2 Le système de courrier"),
        ("A.1 Les clés", "A.1 Les clés"),
    ):
        pdf.add_page()
        pdf.set_font("Helvetica", size=16)
        pdf.start_section(bookmark)
        pdf.cell(0, 10, printed, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, "Le courrier passe par un agent de transport configuré pour le domaine. " * 3)
    extracted = read_pdf(bytes(pdf.output()))
    headings = [extracted.text[b.start : b.end] for b in extracted.blocks if b.kind == "heading"]
    assert headings == ["6.2 Le système de courrier", "A.1 Les clés"]


def test_a_damaged_pdf_is_reported() -> None:
    from assistant.ingest.readers import Unreadable

    with pytest.raises(Unreadable, match="PDF"):
        read_pdf(b"%PDF-1.4 not really")


@pytest.mark.skipif(not REAL_PDF.is_file(), reason="../shared/realdocs is not beside the checkout")
def test_the_real_latex_pdf_reads_with_spaces_and_without_running_headers() -> None:
    extracted = read_pdf(REAL_PDF.read_bytes())
    assert len(extracted.pages) == 265
    assert "Il existe deux méthodes pour associer le fichier" in " ".join(extracted.text.split())
    assert sum(b.kind == "heading" for b in extracted.blocks) > 300  # from the outline
    from assistant.types import Document

    doc = Document("ref", "Référence Debian", "fr", "ref.pdf", extracted.text, "0", extracted.pages, extracted.blocks)
    passages = make_passages([doc], Settings())
    running = re.compile(r"Référence Debian (?:\d+ / 237|[ivxlcdm]+)(?:\n|$)")
    assert not [p.text[:80] for p in passages if running.search(p.text)]
    assert not [p.text[:80] for p in passages if ". . . . . ." in p.text]  # the table of contents
    assert sum(p.section is not None for p in passages) / len(passages) > 0.95
    # every level of the outline is a heading, those whose bookmark drops a leading "Le" too
    ssh = "6.3 Le serveur et les utilitaires d’accès à distance (SSH) › 6.3.1 Bases de SSH"
    assert any(p.section and p.section.endswith(ssh) for p in passages)
