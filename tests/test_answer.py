"""The quoted answer span (HashEmbedder: this is about offsets and structure, not retrieval)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answering.answer import Candidate, answer_first, candidates, span_of
from assistant.config import Settings
from assistant.retrieval.search import hybrid_search
from assistant.serving.assistant import Assistant
from assistant.text.question import AnalysedQuestion
from assistant.types import Hit, Passage

from .conftest import HashEmbedder

PAGE = """# SSH

## Connecting without passwords

Generate authentication keys locally and install the public key on the remote system by the following.

```
$ ssh-keygen -t rsa
$ cat .ssh/id_rsa.pub | ssh user1@remote "cat - >>.ssh/authorized_keys"
```

## Protocols

The protocol used on the GNOME desktop can be:

- Wayland (display server protocol) (native)
- X Window System core protocol (via xwayland)

The server keeps a log. It is rotated every week: old logs are compressed.

## Locales

For a locale to be usable, its data must be compiled. The locales package does not come with \
pre-compiled locale data. You need to configure it as:

```
# dpkg-reconfigure locales
```

## Keys

Each user needs a key pair of their own.

Create it on the user's machine as:

```
$ ssh-keygen
```

## Logs

Logs are kept for a year on the server.

They are stored under /var/log by default.

## Commands

| command | function |
|---------|----------|
| git clone URL | clone the remote repository |
| git init | create the local repository |
"""


def _span_for(tmp_path: Path, sentence: str) -> tuple[str, str]:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "ssh.md").write_text(PAGE, encoding="utf-8")
    settings = Settings(corpus=tmp_path / "corpus", index=tmp_path / "index", reader=False, passage_min_words=200)
    assistant = Assistant(settings, HashEmbedder())
    assistant.build()
    store = assistant.store()
    hits = hybrid_search(store, AnalysedQuestion.of(sentence, "en"), HashEmbedder().encode_queries([sentence])[0], 5)
    citation = next(i for i, h in enumerate(hits) if sentence in h.passage.text)
    text = store.documents[hits[citation].passage.doc_id].text
    start = text.index(sentence)
    candidate = Candidate(0.0, citation, start, start + len(sentence), sentence, "SSH")
    span = span_of(candidate, store, hits)
    passage = hits[citation].passage
    assert text[span.start : span.end] == span.text and passage.start <= span.start < span.end <= passage.end
    return span.text, text


def test_a_sentence_announcing_a_command_quotes_the_command(tmp_path: Path) -> None:
    intro = "Generate authentication keys locally and install the public key on the remote system by the following."
    quoted, _ = _span_for(tmp_path, intro)
    assert quoted.startswith(intro) and "$ ssh-keygen -t rsa" in quoted and "authorized_keys" in quoted
    assert "Protocols" not in quoted  # never past a heading


def test_a_sentence_announcing_a_list_quotes_its_items(tmp_path: Path) -> None:
    quoted, _ = _span_for(tmp_path, "The protocol used on the GNOME desktop can be:")
    assert "Wayland (display server protocol) (native)" in quoted and "xwayland" in quoted
    assert "log" not in quoted


def test_an_ordinary_sentence_is_quoted_alone(tmp_path: Path) -> None:
    # a colon inside the line, and the next sentence on the same line: nothing is added
    quoted, _ = _span_for(tmp_path, "It is rotated every week: old logs are compressed.")
    assert quoted == "It is rotated every week: old logs are compressed."


@pytest.mark.parametrize(
    "sentence",
    [
        "For a locale to be usable, its data must be compiled.",
        "The locales package does not come with pre-compiled locale data.",
    ],
)
def test_the_command_its_paragraph_goes_on_to_announce_is_quoted(tmp_path: Path, sentence: str) -> None:
    quoted, _ = _span_for(tmp_path, sentence)
    assert quoted.startswith(sentence) and quoted.endswith("configure it as:\n\n```\n# dpkg-reconfigure locales")


def test_a_paragraph_of_one_sentence_runs_on_to_the_command_the_next_paragraph_announces(tmp_path: Path) -> None:
    quoted, _ = _span_for(tmp_path, "Each user needs a key pair of their own.")
    assert quoted.endswith("on the user's machine as:\n\n```\n$ ssh-keygen")


def test_a_paragraph_of_one_sentence_followed_by_no_announcement_is_quoted_alone(tmp_path: Path) -> None:
    quoted, _ = _span_for(tmp_path, "Logs are kept for a year on the server.")
    assert quoted == "Logs are kept for a year on the server."


def test_a_sentence_whose_paragraph_announces_nothing_is_quoted_alone(tmp_path: Path) -> None:
    quoted, _ = _span_for(tmp_path, "The server keeps a log.")
    assert quoted == "The server keeps a log."


def test_table_rows_are_candidates_with_their_column_names_and_header_rows_are_not(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "ssh.md").write_text(PAGE, encoding="utf-8")
    settings = Settings(corpus=tmp_path / "corpus", index=tmp_path / "index", reader=False)
    Assistant(settings, HashEmbedder()).build()
    store = Assistant(settings, HashEmbedder()).store()  # as saved and loaded again
    question = "Which command clones a remote repository?"
    vector = HashEmbedder().encode_queries([question])[0]
    hits = hybrid_search(store, AnalysedQuestion.of(question, "en"), vector, 5)
    found = {c.text: c.reading for c in candidates(store, hits, vector, AnalysedQuestion.of(question, "en"))}
    assert found["| git clone URL | clone the remote repository |"] == (
        "command: git clone URL | function: clone the remote repository"
    )
    assert "| command | function |" not in found


def _hit(doc: str) -> Hit:
    return Hit(Passage(doc, 0, 0, 4, "text", "en"), 0.5, 0)


def test_the_passage_holding_a_clearly_better_answer_is_cited_first() -> None:
    hits = [_hit("a"), _hit("b"), _hit("c")]
    chosen = Candidate(0.8, 2, 0, 4, "text", "C")
    moved, renumbered = answer_first(hits, chosen, verdict=3.0, first_verdict=1.5)
    assert [h.passage.doc_id for h in moved] == ["c", "a", "b"] and renumbered.citation == 0
    # the first passage's own sentence rated nearly as well: retrieval order stays
    kept, same = answer_first(hits, chosen, verdict=3.0, first_verdict=2.5)
    assert [h.passage.doc_id for h in kept] == ["a", "b", "c"] and same.citation == 2
    # nothing of the first passage was read (its sentences ranked lower): the answer's passage leads
    assert answer_first(hits, chosen, verdict=0.0, first_verdict=None)[0][0].passage.doc_id == "c"
    # without the reader, nothing moves
    assert answer_first(hits, chosen, verdict=None, first_verdict=None)[0] == hits
