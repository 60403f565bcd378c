"""Boilerplate: text repeated across documents (or at the edges of many pages) is in no passage,
and every passage is still an exact span of its document's text."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.config import Settings
from assistant.indexing.indexer import make_passages
from assistant.ingest.boilerplate import find_boilerplate
from assistant.ingest.readers.base import TextBuilder
from assistant.types import Document

NAV = ["Download the ebook", "Prev | Up | Next", "© 2024 The Handbook Project"]
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèàç", min_size=2, max_size=9)
SENTENCE = st.lists(WORDS, min_size=4, max_size=18).map(lambda ws: " ".join(ws).capitalize() + ".")
PARAGRAPH = st.lists(SENTENCE, min_size=1, max_size=4).map(" ".join)


def _document(doc_id: str, blocks: list[tuple[str, str, int]], pages: bool = False) -> Document:
    builder = TextBuilder()
    starts = []
    for kind, text, level in blocks:
        if pages and kind == "page":
            starts.append(builder.mark())
            continue
        builder.add(kind, text, level)
    text = builder.text()
    return Document(
        doc_id,
        doc_id,
        "en",
        f"{doc_id}.html",
        text,
        hashlib.sha256(text.encode()).hexdigest(),
        tuple(starts),
        tuple(builder.blocks),
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(PARAGRAPH, min_size=1, max_size=5), min_size=3, max_size=6))
def test_repeated_chrome_is_in_no_passage_and_offsets_stay_exact(contents: list[list[str]]) -> None:
    docs = []
    for n, paragraphs in enumerate(contents):
        blocks = [("paragraph", NAV[0], 0), ("paragraph", NAV[1], 0), ("heading", f"Chapter {n}", 1)]
        blocks += [("paragraph", f"Document{n} says: {p}", 0) for p in paragraphs]
        blocks += [("paragraph", NAV[2], 0)]
        docs.append(_document(f"doc{n}", blocks))
    passages = make_passages(docs, Settings(passage_min_words=5, passage_max_words=40))
    texts = {d.id: d.text for d in docs}
    for p in passages:
        assert texts[p.doc_id][p.start : p.end] == p.text
        assert all(texts[p.doc_id][s.start : s.end] in p.text for s in p.sentences)
        for chrome in NAV:
            assert chrome not in p.text
    for doc, paragraphs in zip(docs, contents, strict=True):
        covered = " ".join(p.text for p in passages if p.doc_id == doc.id)
        for paragraph in paragraphs:  # the content is all there
            for sentence in paragraph.split(". "):
                assert sentence.rstrip(".") in covered


def test_text_in_few_documents_headings_and_column_names_are_kept() -> None:
    shared = "A paragraph that two documents share."
    docs = [
        _document(
            f"d{n}",
            [
                ("heading", "Overview", 1),
                ("paragraph", shared if n < 2 else f"Own text {n}.", 0),
                ("header", "package | popcon | size", 0),
                ("row", f"tool{n} | V:{n} | {n}00", 0),
            ],
        )
        for n in range(5)
    ]
    found = find_boilerplate(docs)
    # in 2 of 5 documents: content; the heading and the table's column names in all 5: names
    assert not any(found.values())


TOPICS = ["", "du noyau", "des paquets", "du réseau", "des disques", "des journaux", "du démarrage"]


def test_running_headers_of_pages_are_boilerplate() -> None:
    blocks: list[tuple[str, str, int]] = []
    for page in range(1, 7):
        blocks += [("page", "", 0), ("paragraph", f"Référence Debian {page} / 237", 0)]
        blocks += [("paragraph", f"Le contenu propre de la page {page} parle {TOPICS[page]}.", 0)]
        blocks += [("paragraph", "Chapitre 3. Initialisation du système", 0)]
    doc = _document("book", blocks, pages=True)
    skip = find_boilerplate([doc])["book"]
    kept = [doc.text[b.start : b.end] for i, b in enumerate(doc.blocks) if i not in skip]
    assert kept == [f"Le contenu propre de la page {p} parle {TOPICS[p]}." for p in range(1, 7)]
    passages = make_passages([doc], Settings(passage_min_words=5, passage_max_words=200))
    assert passages and all("Référence Debian" not in p.text and "Chapitre 3" not in p.text for p in passages)
