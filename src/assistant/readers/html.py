"""HTML: the visible text of the page's content, a block per heading, paragraph, list item,
table row and `<pre>`, without scripts, styles and navigation.

Parsed with lxml (libxml2's HTML parser, which follows HTML5's tokenizer: omitted end tags,
an unclosed `<head>`, `<svg><title>`). Dropped before reading: scripts, styles and other
non-text elements; navigation landmarks (`<nav>`, role navigation/banner/contentinfo/search,
a page-level `<header>` or `<footer>`), hidden elements, skip links, elements whose class
or id names navigation (DocBook's `navheader`, Sphinx's `sphinxsidebar`, `toc`, `breadcrumb`,
`menu`...), and containers that are mostly links (link lists, tables of contents). What is
left but repeated across many pages of the corpus is boilerplate (`boilerplate.py`).
"""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

from assistant.readers.base import Extracted, TextBuilder, squash

_JUNK = frozenset(
    "script style noscript template svg math iframe object embed canvas video audio select button".split()
)
_LANDMARK_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "menu", "menubar", "toolbar"})
_NAV_NAME = re.compile(
    r"^(?:[\w]*[-_])?(?:nav|navbar|navigation|navheader|navfooter|breadcrumbs?|toc|sidebar|sphinxsidebar|menu|"
    r"pagination|pager|skip-?links?|skip|masthead|site-?header|site-?footer)(?:[-_][\w-]*)?$",
    re.IGNORECASE,
)
_SKIP_TEXT = re.compile(
    r"^\s*(?:skip to|jump to|aller (?:au|à la)|passer (?:au|à la)|accéder (?:au|à la))", re.IGNORECASE
)
_LINK_CONTAINERS = frozenset("ul ol dl menu table div section aside p".split())
_LINK_SHARE = 0.75  # a container whose text is this much link text, with 3+ links, is navigation
_OWN_TEXT = 200  # letters outside links
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details dialog div dl dt fieldset figcaption figure "
    "footer form header hgroup hr li main ol p section summary table tbody td tfoot th thead tr ul".split()
)
_ITEMS = frozenset({"li", "dt", "dd"})
_CELLS = frozenset({"td", "th"})


def _tag(el: lxml.etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""  # a comment or processing instruction
    return tag.rsplit("}", 1)[-1].lower()  # XHTML served as HTML keeps its namespace


def _letters(text: str | None) -> int:
    """Letters in `text`: numbering ("1.1.", "§ 3") says nothing about prose or links."""
    return sum(ch.isalpha() for ch in text or "")


def _is_navigation(el: lxml.html.HtmlElement, tag: str, depth: int) -> bool:
    if tag == "nav" or (tag in ("header", "footer") and depth <= 3):
        return True  # landmarks: <nav>, and <header>/<footer> of the page rather than of an article
    role = (el.get("role") or "").lower()
    if role in _LANDMARK_ROLES:
        return True
    if el.get("hidden") is not None or (el.get("aria-hidden") or "").lower() == "true":
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    names = (el.get("class") or "").split() + (el.get("id") or "").split()
    if any(_NAV_NAME.match(n) for n in names):
        return True
    if tag == "a" and (el.get("href") or "").startswith("#") and _SKIP_TEXT.match(el.text_content() or ""):
        return True
    if tag in _LINK_CONTAINERS:
        links = [a for a in el.iter("a") if a.get("href") is not None]
        if len(links) >= 3:
            total = _letters(el.text_content())
            linked = sum(_letters(a.text_content()) for a in links)
            # a page's content may be mostly links too (a book's front page and its contents):
            # only a container with little text of its own is navigation
            return total > 0 and linked / total >= _LINK_SHARE and total - linked < _OWN_TEXT
    return False


def _prune(el: lxml.html.HtmlElement, depth: int = 0) -> None:
    """Remove what is not content, top-down (a removed element's text tail is kept)."""
    for child in list(el):
        tag = _tag(child)
        if not tag:
            continue
        if tag in _JUNK or _is_navigation(child, tag, depth + 1):
            child.drop_tree()
        else:
            _prune(child, depth + 1)


def _has_block(el: lxml.html.HtmlElement) -> bool:
    """True when a table row holds paragraphs, lists or headings (a layout table, not a data row)."""
    for d in el.iterdescendants():
        tag = _tag(d)
        if tag not in _CELLS and (tag in _BLOCKS or tag in _HEADINGS or tag == "pre"):
            return True
    return False


class _Walker:
    """Turns the pruned tree into blocks: inline text is gathered until a block boundary."""

    def __init__(self) -> None:
        self.out = TextBuilder()
        self.buffer: list[str] = []
        self.kinds: list[str] = ["paragraph"]

    def flush(self) -> None:
        if self.buffer:
            self.out.add(self.kinds[-1], squash("".join(self.buffer)))
            self.buffer = []

    def text(self, value: str | None) -> None:
        if value:
            self.buffer.append(value)

    def walk(self, el: lxml.html.HtmlElement) -> None:
        tag = _tag(el)
        if not tag:
            self.text(el.tail)
            return
        if tag in _HEADINGS:
            self.flush()
            self.out.add("heading", squash(el.text_content() or ""), _HEADINGS[tag])
        elif tag == "pre":
            self.flush()
            lines = [line.rstrip() for line in (el.text_content() or "").splitlines()]
            self.out.add("code", "\n".join(line for line in lines if line.strip()))
        elif tag == "tr" and not _has_block(el):
            self.flush()
            cells = [c for c in el if _tag(c) in _CELLS]
            # a row of column names: all its cells are <th>, or it sits in the table's <thead>
            parent = el.getparent()
            in_head = parent is not None and _tag(parent) == "thead"
            names = bool(cells) and (all(_tag(c) == "th" for c in cells) or in_head)
            text = " | ".join(t for t in (squash(c.text_content() or "") for c in cells) if t)
            self.out.add("header" if names else "row", text)
        elif tag in _BLOCKS or tag in _ITEMS:
            self.flush()
            # a paragraph inside a list item (<li><p>…</p></li>, as DocBook writes them) is still the item
            inherited = self.kinds[-1] if tag in _CELLS or self.kinds[-1] == "item" else "paragraph"
            self.kinds.append("item" if tag in _ITEMS else inherited)
            self.text(el.text)
            for child in el:
                self.walk(child)
            self.flush()
            self.kinds.pop()
        elif tag == "br":
            self.text(" ")
        elif tag == "img":
            pass  # alt text of icons ("Précédent", "[Astuce]") is chrome, not prose
        else:
            self.text(el.text)
            for child in el:
                self.walk(child)
        self.text(el.tail)


_MARKUP_IN_TITLE = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def _plain_title(text: str) -> str:
    """The title's text; markup that a broken page left inside `<title>` (kept as text by HTML5's
    rules) is not part of it."""
    return squash(_MARKUP_IN_TITLE.sub(" ", text))


def read_html(data: bytes) -> Extracted:
    try:
        data.decode("utf-8")
        encoding: str | None = "utf-8"
    except UnicodeDecodeError:
        encoding = None  # lxml reads the page's own declaration, else Latin-1
    try:
        # huge_tree: libxml2 otherwise stops at a text node of 10 MB (a page of inline script)
        parser = lxml.html.HTMLParser(encoding=encoding, huge_tree=True)
        root = lxml.html.document_fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return Extracted("")  # nothing to parse: reported as empty
    head = root.find("head")
    title_el = head.find("title") if head is not None else None
    title = _plain_title(title_el.text_content() or "") if title_el is not None else ""
    body = root.find("body")
    if body is None:
        return Extracted("", title or None)
    _prune(body)
    walker = _Walker()
    try:
        walker.walk(body)
        walker.flush()
    except RecursionError:  # absurdly deep nesting: its text, one paragraph
        walker = _Walker()
        walker.out.add("paragraph", squash(body.text_content() or ""))
    blocks = tuple(walker.out.blocks)
    text = walker.out.text()
    if not title:
        title = next((text[b.start : b.end] for b in blocks if b.kind == "heading" and b.level == 1), "")
    return Extracted(text, title or None, blocks=blocks)
