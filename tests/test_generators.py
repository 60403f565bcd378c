"""Pages as documentation generators really write them (DocBook XSL, Publican, Sphinx,
Asciidoctor, MkDocs Material, Texinfo, Javadoc, Doxygen, GitHub-style Markdown): their prose,
code and content boxes are kept, each box a titled section of its own, and their navigation is
not. The pages come from Debian's -doc packages (tests/fixtures/generators/SOURCES.md says which,
with their licences); `expected.json` lists, per page, text seen in each part of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lxml.html
import pytest

from assistant.ingest.boilerplate import find_boilerplate
from assistant.ingest.passages import chunk_document
from assistant.ingest.readers.html import read_html
from assistant.types import Document

FIXTURES = Path(__file__).parent / "fixtures" / "generators"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
_WORD = re.compile(r"\w+")


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_prose_code_and_boxes_are_kept_and_navigation_is_not(page: str) -> None:
    expected = EXPECTED[page]
    e = read_html((FIXTURES / page).read_bytes())
    text = _squash(e.text)
    for part in [*expected["prose"], *([expected["code"]] if "code" in expected else [])]:
        assert _squash(part) in text, part
    for box in expected["boxes"]:
        assert _squash(box["text"]) in text, box
    for chrome in expected["navigation"]:
        assert _squash(chrome) not in text, chrome
    # the words kept are nearly all the words a reader sees outside the page's navigation
    kept = len(_WORD.findall(e.text))
    assert e.visible_words is not None and 0.85 * e.visible_words <= kept <= e.visible_words


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_each_box_is_a_section_titled_by_the_box(page: str) -> None:
    e = read_html((FIXTURES / page).read_bytes())
    passages = chunk_document("page", e.text, "en", 60, 200, 0, e.blocks)
    for box in EXPECTED[page]["boxes"]:
        holding = [p for p in passages if _squash(box["text"]) in _squash(p.text)]
        assert holding, box
        if "titled" not in box:  # else expected.json says why the box has no title of its own
            assert (holding[0].section or "").endswith(_squash(box["title"])), (holding[0].section, box)


def _sibling(page: bytes, main: str, n: int) -> bytes:
    """Another page of the same manual: the same chrome around other content."""
    root = lxml.html.document_fromstring(page)
    for i, el in enumerate(root.xpath(main)[0].iter()):
        if isinstance(el.tag, str):
            el.text = f"Sibling {n} says thing {i}. " if (el.text or "").strip() else el.text
            el.tail = f"and more {i}. " if (el.tail or "").strip() else el.tail
    return bytes(lxml.html.tostring(root))


@pytest.mark.parametrize("page", sorted(p for p in EXPECTED if "chrome" in EXPECTED[p]))
def test_chrome_repeated_on_every_page_of_a_manual_is_not_indexed(page: str) -> None:
    data = (FIXTURES / page).read_bytes()
    documents = []
    for n, html in enumerate(
        [data, _sibling(data, EXPECTED[page]["main"], 1), _sibling(data, EXPECTED[page]["main"], 2)]
    ):
        e = read_html(html)
        documents.append(Document(f"p{n}", "", "en", f"p{n}.html", e.text, str(n), blocks=e.blocks))
    skip = find_boilerplate(documents)
    page_doc = documents[0]
    indexed = " ".join(
        p.text
        for p in chunk_document("p0", page_doc.text, "en", 60, 200, 0, page_doc.blocks, skip.get("p0", frozenset()))
    )
    for chrome in EXPECTED[page]["chrome"]:
        assert _squash(chrome) in _squash(page_doc.text)  # read, as the page shows it
        assert _squash(chrome) not in _squash(indexed), chrome  # but not indexed: it is on every page
    for part in EXPECTED[page]["prose"]:
        assert _squash(part) in _squash(indexed), part
