from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assistant.ingest.documents import load_corpus

from .conftest import CORPUS


def test_bundled_documents_have_ids_titles_languages_and_exact_text() -> None:
    corpus = load_corpus(CORPUS)
    by_id = {d.id: d for d in corpus.documents}
    assert set(by_id) == {"en-medef-digital-disruption-lab", "fr-french-tech-corporate-community"}
    en, fr = by_id["en-medef-digital-disruption-lab"], by_id["fr-french-tech-corporate-community"]
    assert (en.language, fr.language) == ("en", "fr")
    assert "Digital Disruption Lab" in en.title and "French Tech" in fr.title
    shared = CORPUS.parent.parent / "shared" / "corpus" / en.source
    if shared.exists():
        assert en.text.encode("utf-8") == shared.read_bytes()
    assert corpus.skipped == []


def test_new_files_are_picked_up_in_sub_folders_without_code_change(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "rapport-annuel.md").write_text(
        "# Rapport annuel\n\nLe chiffre d'affaires a augmenté de dix pour cent cette année.\n", encoding="utf-8"
    )
    (tmp_path / "plain_notes.txt").write_bytes(b"Windows line\r\nendings are kept.\r\n")
    corpus = load_corpus(tmp_path)
    docs = {d.id: d for d in corpus.documents}
    assert docs["notes-rapport-annuel"].title == "Rapport annuel"
    assert docs["notes-rapport-annuel"].language == "fr"
    assert docs["plain-notes"].title == "plain notes"
    assert docs["plain-notes"].text == "Windows line\r\nendings are kept.\r\n"


def test_unusable_files_are_skipped_with_a_warning_naming_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "good.txt").write_text("A perfectly readable document about digital companies.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "latin1.md").write_bytes("Déjà vu, café crème".encode("latin-1"))
    (tmp_path / "image.png").write_bytes(b"\x89PNG")  # not a document type: ignored silently
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(tmp_path)
    assert [d.source for d in corpus.documents] == ["good.txt"]
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "latin1.md"}
    assert "empty" in reasons["empty.txt"] and "UTF-8" in reasons["latin1.md"]
    for name in reasons:
        assert name in caplog.text


def test_metadata_file_sets_id_title_and_language(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Short text.", encoding="utf-8")
    (tmp_path / "metadata.json").write_text('{"a.txt": {"id": "alpha", "title": "Alpha", "language": "fr"}}')
    [doc] = load_corpus(tmp_path).documents
    assert (doc.id, doc.title, doc.language) == ("alpha", "Alpha", "fr")
