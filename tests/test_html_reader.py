"""HTML as users have it: omitted end tags, navigation chrome, code, tables, headings as blocks."""

from __future__ import annotations

import re

from assistant.ingest.readers import READERS
from assistant.ingest.readers.html import read_html

PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Guide réseau</title>
<link rel=stylesheet href=x.css>
<body>
<a class="skip-link" href="#main">Aller au contenu</a>
<header><div class="logo">ACME Docs</div>
<nav><a href="/">Accueil</a> <a href="/a">A</a> <a href="/b">B</a></nav></header>
<div class="navheader"><table><tr><td><a href="p.html">Précédent</a><td>Chapitre 5<td>
<a href="n.html">Suivant</a></table></div>
<svg><title>icône</title><path d="M0"/></svg>
<main id=main>
<h1>5. Configuration du réseau</h1>
<p>Le réseau se configure avec <code>ip</code>. Voir <a href="#x">la section 5.2</a>.
<p>Deuxième paragraphe sans balise de fin
<h2>5.1. Commandes</h2>
<ul><li>Première commande : <code>ip addr</code><li>Seconde commande : <code>ip route</code></ul>
<pre>$ ip addr show
$ ip route list</pre>
<table><tr><th>ancienne<th>nouvelle<tr><td>ifconfig<td>ip addr</table>
<div class="toc"><a href="#a">5.1</a><a href="#b">5.2</a><a href="#c">5.3</a></div>
</main>
<footer>© ACME 2024 — <a href="/legal">Mentions</a></footer>
<script>document.write("tracking")</script>
"""


def _blocks(html: str) -> list[tuple[str, int, str]]:
    e = read_html(html.encode())
    return [(b.kind, b.level, e.text[b.start : b.end]) for b in e.blocks]


def test_structure_is_read_as_typed_blocks_with_exact_offsets() -> None:
    e = read_html(PAGE.encode())
    assert e.title == "Guide réseau"  # the <title> of the head, not the <svg>'s
    blocks = [(b.kind, b.level, e.text[b.start : b.end]) for b in e.blocks]
    assert blocks == [
        ("heading", 1, "5. Configuration du réseau"),
        ("paragraph", 0, "Le réseau se configure avec ip. Voir la section 5.2."),
        ("paragraph", 0, "Deuxième paragraphe sans balise de fin"),
        ("heading", 2, "5.1. Commandes"),
        ("item", 0, "Première commande : ip addr"),
        ("item", 0, "Seconde commande : ip route"),
        ("code", 0, "$ ip addr show\n$ ip route list"),
        ("header", 0, "ancienne | nouvelle"),  # all <th>: the columns' names
        ("row", 0, "ifconfig | ip addr"),
    ]


def test_navigation_scripts_and_chrome_are_not_text() -> None:
    text = read_html(PAGE.encode()).text
    for chrome in ("Aller au contenu", "ACME Docs", "Accueil", "Précédent", "Suivant", "icône", "Mentions", "tracking"):
        assert chrome not in text, chrome


def test_a_head_never_closed_and_xhtml_pages_are_read() -> None:
    unclosed = b"<html><head><title>Notes</title><meta name=x content=y><p>Le texte commence ici."
    e = read_html(unclosed)
    assert e.title == "Notes" and e.text == "Le texte commence ici."
    xhtml = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        b"<title>Chapitre 3</title></head><body><h1>Chapitre 3</h1>"
        b"<p>Le syst\xc3\xa8me d\xc3\xa9marre.</p></body></html>"
    )
    e = read_html(xhtml)
    assert e.title == "Chapitre 3" and "Le système démarre." in e.text and e.blocks[0].kind == "heading"
    assert READERS[".xhtml"] is read_html


def test_a_page_of_links_only_keeps_its_prose() -> None:
    links = "".join(f'<li><a href="ch{i}.html">{i}. Chapitre {i}</a></li>' for i in range(1, 30))
    page = f"<html><body><h1>Référence</h1><p>Ce livre décrit le système.</p><ul>{links}</ul></body></html>"
    e = read_html(page.encode())
    assert "Ce livre décrit le système." in e.text and "Chapitre 7" not in e.text
    table_of_data = (
        "<table>"
        + "".join(
            f'<tr><td><a href="p{i}">pkg{i}</a></td><td>a long description of package {i}</td></tr>' for i in range(5)
        )
        + "</table>"
    )
    assert "a long description of package 3" in read_html(f"<body>{table_of_data}</body>".encode()).text


def test_layout_tables_are_read_as_paragraphs() -> None:
    tip = "<table><tr><th>Astuce</th></tr><tr><td><p>Premier conseil.</p><p>Second conseil.</p></td></tr></table>"
    kinds = [(k, t) for k, _, t in _blocks(f"<body>{tip}</body>")]
    assert ("paragraph", "Premier conseil.") in kinds and ("paragraph", "Second conseil.") in kinds


def test_a_paragraph_inside_a_list_item_is_the_item() -> None:
    html = (
        "<h1>7.2. Protocols</h1><p>The protocol on the GNOME desktop can be:</p>"
        '<ul><li class="listitem"><p>Wayland (native)</p></li><li><p>X Window System</p><p>via xwayland</p></li></ul>'
        "<p>After the list.</p>"
    )
    assert [(kind, text) for kind, _, text in _blocks(html)] == [
        ("heading", "7.2. Protocols"),
        ("paragraph", "The protocol on the GNOME desktop can be:"),
        ("item", "Wayland (native)"),
        ("item", "X Window System"),
        ("item", "via xwayland"),
        ("paragraph", "After the list."),
    ]


SIDEBARS = """<html><body>
<div class="sidebar"><h3>Site</h3><ul><li><a href="/a">Home</a></li><li><a href="/b">Install</a></li>
<li><a href="/c">Configure</a></li><li><a href="/d">Troubleshoot</a></li></ul></div>
<div class="section"><h2 class="title">9.7. Scheduling Tasks</h2>
<p>cron is the daemon that runs scheduled and recurring commands.</p>
<div class="sidebar"><div class="titlepage"><p class="title"><strong>TIP</strong> Restricting cron or atd</p></div>
<p>List the users allowed in <code>/etc/cron.allow</code>, or the ones denied in /etc/cron.deny.</p></div>
<p>Each user has a crontab of their own.</p></div>
<div class="toc">This book is maintained by volunteers; everybody may propose changes, report mistakes or translate
it into another language, and each release is checked by the documentation team before it is published.</div>
<h2>Options<a class="headerlink" href="#options" title="Permalink">¶</a></h2><p>None.</p>
</body></html>"""


def test_a_sidebar_box_is_content_and_a_sidebar_of_links_is_not() -> None:
    # DocBook and Publican write their boxes as <div class="sidebar">, website themes their menus
    e = read_html(SIDEBARS.encode())
    blocks = [(b.kind, b.box, e.text[b.start : b.end]) for b in e.blocks]
    assert ("title", 1, "TIP Restricting cron or atd") in blocks
    assert (
        "paragraph",
        1,
        "List the users allowed in /etc/cron.allow, or the ones denied in /etc/cron.deny.",
    ) in blocks
    assert ("paragraph", 0, "Each user has a crontab of their own.") in blocks  # after the box: outside it
    assert "Troubleshoot" not in e.text and "Site" not in e.text
    # a class that names navigation is not proof: prose without links stays
    assert "This book is maintained by volunteers" in e.text
    assert ("heading", 0, "Options") in blocks  # the permalink sign is not part of the heading


def test_a_box_title_names_its_section_and_the_page_reports_its_visible_words() -> None:
    from assistant.ingest.passages import chunk_document

    e = read_html(SIDEBARS.encode())
    passages = chunk_document("d", e.text, "en", 5, 200, 0, e.blocks)
    sections = {p.section: p.text for p in passages}
    assert sections["9.7. Scheduling Tasks › TIP Restricting cron or atd"].endswith("/etc/cron.deny.")
    assert "crontab of their own" in passages[-2].text and passages[-2].section == "9.7. Scheduling Tasks"
    # visible: everything but the link list; all of it is kept
    assert e.visible_words == len(re.findall(r"\w+", e.text))
