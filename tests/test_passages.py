from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.ingest.passages import chunk_document, split_sentences

FRENCH_BITS = ["«\u00a0", "\u00a0»", "’", "\u202f", "\u00a0", "\r\n", "\n\n", " ", ". ", "? ", "! ", "… ", "l’", "d'"]
WORDS = ["Le", "MEDEF", "a", "visité", "21", "pays", "The", "team", "went", "to", "countries", "M.", "etc.", "–", "-"]

texty = st.lists(
    st.one_of(st.sampled_from(FRENCH_BITS), st.sampled_from(WORDS), st.text(max_size=8)), max_size=400
).map("".join)


def _check(text: str, min_words: int, max_words: int, overlap: int) -> None:
    passages = chunk_document("d", text, "fr", min_words, max_words, overlap)
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert len(p.text.split()) <= max_words
        for s in p.sentences:
            assert p.start <= s.start < s.end <= p.end
            assert text[s.start : s.end].strip() == text[s.start : s.end]
    # every word of the document is in some passage, in order
    covered = "".join(p.text for p in passages) if overlap == 0 else None
    if covered is not None:
        assert re.sub(r"\s+", "", covered) == re.sub(r"\s+", "", text)
    assert [p.ordinal for p in passages] == list(range(len(passages)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texty, st.integers(1, 30), st.integers(1, 3))
def test_offsets_map_back_to_the_text(text: str, min_words: int, extra: int) -> None:
    _check(text, min_words, min_words * extra, 0)


@settings(max_examples=150, deadline=None)
@given(texty, st.integers(0, 2))
def test_offsets_hold_with_overlap(text: str, overlap: int) -> None:
    _check(text, 5, 12, overlap)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_unicode_never_breaks_offsets(text: str) -> None:
    _check(text, 3, 9, 0)


def test_french_punctuation_and_crlf_keep_exact_offsets() -> None:
    text = "Titre\r\n\r\nIl a dit «\u00a0bonjour\u00a0»\u202f! L’équipe est partie.\r\nM. Dupont reste.\r\n"
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == [
        "Titre",
        "Il a dit «\u00a0bonjour\u00a0»\u202f!",
        "L’équipe est partie.",
        "M. Dupont reste.",
    ]


def test_sentences_do_not_break_after_abbreviations_or_initials() -> None:
    text = "Selon M. Martin et J. Dupont, il y a 3.5 millions d'euros etc. et plus. Fin du texte."
    assert [text[s.start : s.end] for s in split_sentences(text)] == [
        "Selon M. Martin et J. Dupont, il y a 3.5 millions d'euros etc. et plus.",
        "Fin du texte.",
    ]


def test_passages_respect_sizes_and_keep_headings_with_their_paragraph() -> None:
    para = " ".join(["Une phrase de dix mots pour remplir ce paragraphe ici."] * 8)
    text = f"{para}\n\nUn titre court\n\n{para}\n\n{para}"
    passages = chunk_document("d", text, "fr", min_words=60, max_words=200)
    assert all(60 <= len(p.text.split()) <= 200 for p in passages)
    holder = next(p for p in passages if "Un titre court" in p.text)
    assert not holder.text.endswith("Un titre court")  # the heading stays with its paragraph


def test_bundled_documents_give_passages_of_a_few_sentences() -> None:
    from assistant.ingest.documents import load_corpus

    from .conftest import CORPUS

    for doc in load_corpus(CORPUS).documents:
        passages = chunk_document(doc.id, doc.text, doc.language)
        assert len(passages) >= 2
        for p in passages:
            assert len(p.sentences) >= 2
            assert 40 <= len(p.text.split()) <= 200
            assert doc.text[p.start : p.end] == p.text


def test_passages_stay_within_sections_and_know_their_heading_path() -> None:
    from assistant.ingest.readers.text import markdown_blocks

    text = (
        "# 3. Boot\n\nThe machine starts in stages. Each stage hands over to the next.\n\n"
        "## 3.1. Overview\n\n### 3.1.1. Stage 1\n\nThe firmware runs first and finds the boot loader.\n\n"
        "## 3.2. Systemd\n\nSystemd starts the services. It reads `/etc/systemd/system` units.\n\n"
        "```\n$ systemctl status\n$ journalctl -b\n```\n"
    )
    blocks = markdown_blocks(text)
    passages = chunk_document("d", text, "en", min_words=1, max_words=200, blocks=blocks)
    assert [p.section for p in passages] == [
        "3. Boot",
        "3. Boot › 3.1. Overview › 3.1.1. Stage 1",  # a heading with nothing under it opens the next section
        "3. Boot › 3.2. Systemd",
    ]
    for p in passages:
        assert text[p.start : p.end] == p.text
    assert passages[1].text.startswith("3.1. Overview")
    last = passages[2]
    kinds = [(s.kind, text[s.start : s.end]) for s in last.sentences]
    assert kinds == [
        ("heading", "3.2. Systemd"),
        ("sentence", "Systemd starts the services."),
        ("sentence", "It reads `/etc/systemd/system` units."),
        ("code", "$ systemctl status"),
        ("code", "$ journalctl -b"),
    ]


def test_plain_text_without_headings_has_no_section() -> None:
    passages = chunk_document("d", "One sentence here. Another one there.", "en", min_words=1)
    assert [p.section for p in passages] == [None]


def test_sentences_survive_paths_commands_and_parentheses() -> None:
    text = (
        'Edit "/etc/cron.deny" to refuse users (see crontab(5) for details). '
        "Run apt-get update. then apt-get upgrade to finish. Version 2.100 is current."
    )
    assert [text[s.start : s.end] for s in split_sentences(text)] == [
        'Edit "/etc/cron.deny" to refuse users (see crontab(5) for details).',
        "Run apt-get update. then apt-get upgrade to finish.",
        "Version 2.100 is current.",
    ]


TABLES = """# Network

The old commands and the new ones:

| old | new | purpose |
|-----|-----|---------|
| ifconfig | ip addr | addresses |
| route | ip route | routing table |

A second table, without column names:

| arp | ip neigh |
"""


def test_a_table_row_knows_its_column_names() -> None:
    from assistant.ingest.readers.text import markdown_blocks

    passages = chunk_document("d", TABLES, "en", min_words=1, max_words=200, blocks=markdown_blocks(TABLES))
    units = [(s.kind, TABLES[s.start : s.end], s.header) for p in passages for s in p.sentences]
    header = next(u for u in units if u[0] == "header")
    assert header[1] == "| old | new | purpose |"
    rows = {text: names for kind, text, names in units if kind == "row"}
    named = [TABLES[n[0] : n[1]] if n else None for n in rows.values()]
    # the header's offsets, for both rows of its table; none for a table without names
    assert named == ["| old | new | purpose |", "| old | new | purpose |", None]


def test_a_heading_is_not_cut_from_its_text_by_an_admonition_label() -> None:
    from assistant.types import Block

    text = "3.1. Convert a text file with iconv\n\nTip\n\nThe iconv command converts the encoding of a text file."
    heading, label, body = (text.index(s) for s in ("3.1.", "Tip", "The iconv"))
    blocks = [
        Block("heading", heading, label - 2, 2),
        Block("paragraph", label, label + 3),
        Block("paragraph", body, len(text)),
    ]
    passages = chunk_document("d", text, "en", min_words=1, max_words=200, blocks=blocks, skip=frozenset({1}))
    # one passage: the heading with its text (the label's text stays in the span, not as a sentence)
    assert len(passages) == 1 and passages[0].text == text
    assert [s.kind for s in passages[0].sentences] == ["heading", "sentence"]
    # boilerplate longer than a label still cuts (a passage never spans a navigation bar)
    nav = "3.1. Convert a text file with iconv\n\nHome Previous Next Up\n\nThe iconv command converts files."
    heading, bar, body = (nav.index(s) for s in ("3.1.", "Home", "The iconv"))
    blocks = [
        Block("heading", heading, bar - 2, 2),
        Block("paragraph", bar, body - 2),
        Block("paragraph", body, len(nav)),
    ]
    passages = chunk_document("d", nav, "en", min_words=1, max_words=200, blocks=blocks, skip=frozenset({1}))
    assert all("Home" not in p.text for p in passages)
