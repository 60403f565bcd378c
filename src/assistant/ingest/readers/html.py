"""HTML: the visible text of the page's content, a block per heading, paragraph, list item,
table row and `<pre>`, without scripts, styles and navigation.

Parsed with lxml (libxml2's HTML parser, which follows HTML5's tokenizer: omitted end tags,
an unclosed `<head>`, `<svg><title>`). Dropped before reading: scripts, styles and other
non-text elements, hidden elements, navigation landmarks (`<nav>`, role navigation/banner/
contentinfo/search, a page-level `<header>` or `<footer>`), skip links, containers that are
mostly links (link lists, tables of contents), and elements whose class or id names
navigation (DocBook's `navheader`, Sphinx's `sphinxsidebar`, `toc`, `breadcrumb`...) when
they hold links and little prose of their own. What is left but repeated across many pages of
the corpus is boilerplate (`boilerplate.py`).

Content boxes are content: admonitions, notes, tips, warnings, sidebars and call-outs, as the
common documentation generators write them (DocBook XSL and Publican, Sphinx, Asciidoctor,
MkDocs Material, Texinfo, Doxygen, GitHub's alerts), are kept as blocks of their own,
numbered (`Block.box`), their title (`Note`, `TIP Restricting cron or atd`) a `title` block.
A class name shared by navigation and content (`sidebar`) is a box unless it is mostly links.
"""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

from assistant.ingest.readers.base import Extracted, TextBuilder, squash

_JUNK = frozenset(
    "script style noscript template svg math iframe object embed canvas video audio select button".split()
)
_LANDMARK_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "menu", "menubar", "toolbar"})
_NAV_NAME = re.compile(
    r"^(?:[\w]*[-_])?(?:\w*nav|navbar|navigation|navheader|navfooter|breadcrumbs?|toc|sidebar|sphinxsidebar|menu|"
    r"pagination|pager|skip-?links?|skip|banner|masthead|site-?header|site-?footer)(?:[-_][\w-]*)?$",
    re.IGNORECASE,
)
# The page's header and footer as pages wrote them before <header> and <footer> (Asciidoctor's
# #footer, Doxygen's div.header, Sphinx's div.footer): landmarks when they sit at the page's top level.
_CHROME_NAME = re.compile(r"^(?:page[-_]?|site[-_]?)?(?:header|footer)$", re.IGNORECASE)
# Content boxes, by an exact class token: DocBook/Publican (note, tip, warning, important, caution,
# sidebar), Sphinx and MkDocs (admonition, seealso, versionadded...), Asciidoctor (admonitionblock,
# sidebarblock), Texinfo (cartouche), Doxygen (`<dl class="section note">`: note, warning, attention,
# remark...), Javadoc (deprecation-block), GitHub (markdown-alert), Bootstrap-like themes (alert, callout).
_BOX_CLASSES = frozenset(
    "admonition admonitionblock sidebar sidebarblock note notes tip tips hint important warning caution "
    "attention danger error remark seealso see-also todo cartouche callout alert markdown-alert "
    "deprecation-block deprecated versionadded versionchanged versionremoved".split()
)
_BOX_ROLES = frozenset({"note", "alert", "complementary"})
_BOX_TAGS = frozenset("div aside section details dl table blockquote".split())
_AMBIGUOUS_BOX = frozenset({"sidebar"})  # navigation in some themes: dropped when it is mostly links
# What titles a box: a heading, <summary>, <th> (DocBook's table-style admonitions), <dt> (Doxygen),
# or one of these classes, when nothing of the box's text comes before it.
_TITLE_CLASSES = frozenset({"title", "admonition-title", "markdown-alert-title", "alert-heading", "callout-title"})
_BOX_MARK = "data-assistant-box"  # set on a kept box while reading (the parsed tree is ours)
_TITLE_MARK = "data-assistant-title"
_WORDS = re.compile(r"\w+")
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


def _is_hidden(el: lxml.html.HtmlElement) -> bool:
    if el.get("hidden") is not None or (el.get("aria-hidden") or "").lower() == "true":
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def _link_letters(el: lxml.html.HtmlElement) -> tuple[int, int, int]:
    """Links (with an href), letters in all, letters inside those links."""
    links = [a for a in el.iter("a") if a.get("href") is not None]
    return len(links), _letters(el.text_content()), sum(_letters(a.text_content()) for a in links)


def _link_list(el: lxml.html.HtmlElement) -> bool:
    """Three or more links that make most of the text: a link list or a table of contents. A page's
    content may be mostly links too (a book's front page and its contents): only a container with
    little text of its own counts."""
    links, total, linked = _link_letters(el)
    return links >= 3 and total > 0 and linked / total >= _LINK_SHARE and total - linked < _OWN_TEXT


def _is_link_list(el: lxml.html.HtmlElement, tag: str) -> bool:
    return tag in _LINK_CONTAINERS and _link_list(el)


def _box_names(el: lxml.html.HtmlElement, tag: str) -> set[str]:
    """The box classes of a content box (a role counts as one), empty for anything else."""
    if tag not in _BOX_TAGS:
        return set()
    names = {n.lower() for n in (el.get("class") or "").split()} & _BOX_CLASSES
    if (el.get("role") or "").lower() in _BOX_ROLES:
        names.add("role")
    if tag == "details":
        names.add("details")
    return names


def _is_landmark(el: lxml.html.HtmlElement, tag: str, depth: int) -> bool:
    """Navigation by what the page declares: landmarks, hidden elements, skip links."""
    if tag == "nav" or (tag in ("header", "footer") and depth <= 3):
        return True  # landmarks: <nav>, and <header>/<footer> of the page rather than of an article
    names = (el.get("class") or "").split() + (el.get("id") or "").split()
    if depth <= 3 and tag in ("div", "address", "table", "p") and any(_CHROME_NAME.match(n) for n in names):
        return True
    if (el.get("role") or "").lower() in _LANDMARK_ROLES or _is_hidden(el):
        return True
    if tag != "a" or not (el.get("href") or "").startswith("#"):
        return False
    text = el.text_content() or ""
    # a skip link, or a permalink ("¶", "#", "🔗" after a heading, as Sphinx and MkDocs write them)
    return bool(_SKIP_TEXT.match(text)) or (bool(text.strip()) and not any(ch.isalnum() for ch in text))


def _is_navigation(el: lxml.html.HtmlElement, tag: str, depth: int) -> bool:
    if _is_landmark(el, tag, depth):
        return True
    boxes = _box_names(el, tag)
    if boxes:  # content, unless a name that themes also give their navigation column hides a link list
        return boxes <= _AMBIGUOUS_BOX and _link_list(el)
    if _is_link_list(el, tag):
        return True
    names = (el.get("class") or "").split() + (el.get("id") or "").split()
    if any(_NAV_NAME.match(n) for n in names):
        # a name is a hint, not proof ("toc" may title a paragraph): navigation holds links and
        # little prose of its own (DocBook's navheader: "Prev", "Next" and the chapter's title)
        links, total, linked = _link_letters(el)
        return links > 0 and (linked >= total / 2 or total - linked < _OWN_TEXT)
    return False


def _bold_line(el: lxml.html.HtmlElement) -> bool:
    """A block that is one bold label and nothing else (Texinfo's "Editor's note:" over its cartouche)."""
    if _tag(el) not in ("div", "p") or len(el) != 1 or _tag(el[0]) not in ("strong", "b"):
        return False
    return (el.text or "").strip() == "" and (el[0].tail or "").strip() == ""


def _box_title(box: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The element that titles a box: the first title-like element before any of the box's text."""
    for el in box.iterdescendants():
        tag = _tag(el)
        if not tag:
            continue
        classes = {n.lower() for n in (el.get("class") or "").split()}
        first_term = tag == "dt" and el.getparent() is box
        if tag in _HEADINGS or tag in ("summary", "th") or first_term or classes & _TITLE_CLASSES or _bold_line(el):
            return el if (el.text_content() or "").strip() else None
        if (el.text or "").strip() or _box_names(el, tag):
            return None  # the box starts with its text, or with a box of its own: no title
    return None


def _prune(el: lxml.html.HtmlElement, depth: int = 0, in_box: bool = False) -> None:
    """Remove what is not content, top-down (a removed element's text tail is kept); mark the
    content boxes that stay, and their titles. Inside a box, only what the page declares
    navigation goes: a list of links in a note ("see Transform, Direction, Clipping") is content."""
    for child in list(el):
        tag = _tag(child)
        if not tag:
            continue
        if tag in _JUNK or (_is_landmark(child, tag, depth + 1) if in_box else _is_navigation(child, tag, depth + 1)):
            child.drop_tree()
            continue
        box = bool(_box_names(child, tag))
        _prune(child, depth + 1, in_box or box)
        if box:
            child.set(_BOX_MARK, "")
            title = _box_title(child)
            if title is not None:
                title.set(_TITLE_MARK, "")


def _visible_words(el: lxml.html.HtmlElement, depth: int = 0) -> int:
    """Words a browser shows of `el` outside what is navigation whatever its names say (landmarks,
    link lists): the text that extraction should keep, to tell how much of it was kept."""
    count = len(_WORDS.findall(el.text or ""))
    for child in el:
        tag = _tag(child)
        navigation = (
            tag in _JUNK or _is_landmark(child, tag, depth + 1) or (tag in _LINK_CONTAINERS and _link_list(child))
        )
        if tag and not navigation:
            count += _visible_words(child, depth + 1)
        count += len(_WORDS.findall(child.tail or ""))
    return count


def _has_block(el: lxml.html.HtmlElement) -> bool:
    """True when a table row holds paragraphs, lists or headings (a layout table, not a data row)."""
    for d in el.iterdescendants():
        tag = _tag(d)
        if tag not in _CELLS and (tag in _BLOCKS or tag in _HEADINGS or tag == "pre"):
            return True
    return False


def _text_cells(row: lxml.html.HtmlElement) -> int:
    """Cells of a table row that hold text (a box's layout row: [icon] | its text)."""
    return sum(1 for c in row if _tag(c) in _CELLS and (c.text_content() or "").strip())


class _Walker:
    """Turns the pruned tree into blocks: inline text is gathered until a block boundary."""

    def __init__(self) -> None:
        self.out = TextBuilder()
        self.buffer: list[str] = []
        self.kinds: list[str] = ["paragraph"]
        self.boxes: list[int] = [0]  # the box being read (innermost last); 0: outside any
        self.opened = 0  # boxes opened so far

    def add(self, kind: str, text: str, level: int = 0) -> None:
        self.out.add(kind, text, level, self.boxes[-1])

    def flush(self) -> None:
        if self.buffer:
            self.add(self.kinds[-1], squash("".join(self.buffer)))
            self.buffer = []

    def text(self, value: str | None) -> None:
        if value:
            self.buffer.append(value)

    def walk(self, el: lxml.html.HtmlElement) -> None:
        tag = _tag(el)
        if not tag:
            self.text(el.tail)
            return
        if el.get(_BOX_MARK) is not None:
            self.flush()
            self.opened += 1
            self.boxes.append(self.opened)
            self.kinds.append("paragraph")
            self.text(el.text)
            for child in el:
                self.walk(child)
            self.flush()
            self.kinds.pop()
            self.boxes.pop()
        elif el.get(_TITLE_MARK) is not None or (tag in _HEADINGS and self.boxes[-1]):
            # a box's title, or a heading inside a box: it names the box, not a section of the page
            self.flush()
            self.add("title", squash(el.text_content() or ""))
        elif tag in _HEADINGS:
            self.flush()
            self.add("heading", squash(el.text_content() or ""), _HEADINGS[tag])
        elif tag == "pre":
            self.flush()
            lines = [line.rstrip() for line in (el.text_content() or "").splitlines()]
            self.add("code", "\n".join(line for line in lines if line.strip()))
        elif tag == "tr" and not _has_block(el) and el.find(f".//*[@{_TITLE_MARK}]") is not None:
            self.flush()  # DocBook's table-style admonition: [icon] | Tip
            self.add("title", squash(el.text_content() or ""))
        elif tag == "tr" and not _has_block(el) and not (self.boxes[-1] and _text_cells(el) <= 1):
            self.flush()
            cells = [c for c in el if _tag(c) in _CELLS]
            # a row of column names: all its cells are <th>, or it sits in the table's <thead>
            parent = el.getparent()
            in_head = parent is not None and _tag(parent) == "thead"
            names = bool(cells) and (all(_tag(c) == "th" for c in cells) or in_head)
            text = " | ".join(t for t in (squash(c.text_content() or "") for c in cells) if t)
            self.add("header" if names else "row", text)
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
    visible = _visible_words(body)
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
    return Extracted(text, title or None, blocks=blocks, visible_words=visible)
