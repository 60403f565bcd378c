"""`assistant eval --realdocs DIR [DIR ...]`: real document collections and their questions, through the HTTP API.

DIR holds `corpus/` (the documents) and `questions.jsonl`, one question a line:
`{"question", "language", "file" (the corpus file that answers it, or null when none does),
"answer_contains" (strings of which the answer sentence should hold one)}` — the format of
`../shared/realdocs/`. A fresh index is built from the documents (nothing reused: the build
time is that of a first build) and every question is asked through `POST /api/answer`, as a
client would. Figures: right file first and in the top 5, answer sentence holding an expected
string, answered/abstained, the shortest answer, citations with a section and a page,
citations that start with text repeated across documents, per language direction.
`--pdf FILE` indexes one document alone instead (the PDF of the same book).

Extraction is checked too: the share of each page's visible words that the index keeps, that
every content box of the HTML (admonition, note, tip, warning, sidebar) is found in the
extracted text, and that every question's expected string is in the extracted text of its file
(else no ranking could find it). Several collections print one table each, then the totals of
the **tune** and **confirm** collections, the roles being read from the README beside them
(`../shared/realdocs-pool/README.md`: fit and choose on tune, only report confirm).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lxml.html
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.ingest.boilerplate import Kept, kept_below, kept_from_manifest
from assistant.models.embedding import Embedder
from assistant.serving.assistant import Assistant

SHORT_ANSWER_WORDS = 6  # an answer of this many words or fewer is a fragment, not an answer


@dataclass(frozen=True)
class DevQuestion:
    text: str
    language: str
    file: str | None
    expected: tuple[str, ...]


def load_questions(path: Path) -> list[DevQuestion]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            questions.append(DevQuestion(q["question"], q["language"], q.get("file"), tuple(q["answer_contains"])))
    return questions


def _holds(sentence: str, expected: tuple[str, ...]) -> bool:
    low = " ".join(sentence.split()).lower()
    return any(" ".join(e.split()).lower() in low for e in expected)


_WORD = re.compile(r"\w+")
# Content boxes as generators mark them; this checks the reader, so it keeps a list of its own.
_BOX_CLASS = re.compile(
    r"^(?:[\w-]*admonition[\w-]*|sidebar|sidebarblock|cartouche|callout|note|tip|hint|warning|caution|important|"
    r"attention|markdown-alert)$"
)
_BOX_TAGS = frozenset({"div", "aside", "table", "dl", "section"})
_UNSEEN = frozenset("script style noscript template svg math".split())


def _words(text: str) -> str:
    return " " + " ".join(_WORD.findall(text.lower())) + " "


def box_texts(html: bytes) -> list[str]:
    """The visible text of every content box of a page (outermost boxes only), words only."""
    root = lxml.html.document_fromstring(html)
    for el in list(root.iter(*_UNSEEN)):
        el.drop_tree()

    def is_box(el: Any) -> bool:
        names = (el.get("class") or "").split() if isinstance(el.tag, str) else []
        return el.tag in _BOX_TAGS and any(_BOX_CLASS.search(n.lower()) for n in names)

    found = []
    for el in root.iter():
        if is_box(el) and not any(is_box(a) for a in el.iterancestors()):
            text = " ".join(_WORD.findall((el.text_content() or "").lower()))
            if text:
                found.append(text)
    return found


def check_extraction(
    folder: Path, questions: list[DevQuestion], documents: dict[str, Any], kept: dict[str, Kept]
) -> dict[str, Any]:
    """What the index kept of a collection: visible and kept words, the boxes of its HTML pages
    that the extracted text lacks, and the questions whose expected string is not in the
    extracted text of their file."""
    lost_boxes = []
    boxes = 0
    for source, doc in documents.items():
        if not source.lower().endswith((".html", ".htm")):
            continue
        text = _words(doc.text)
        for box in box_texts((folder / "corpus" / source).read_bytes()):
            boxes += 1
            if f" {box} " not in text:
                lost_boxes.append({"source": source, "box": box[:120]})
    missing = []
    for q in questions:
        doc = documents.get(q.file) if q.file else None
        if doc is not None and not _holds(doc.text, q.expected):
            missing.append({"question": q.text, "file": q.file})
    visible = sum(k.visible for k in kept.values())
    words = sum(k.kept for k in kept.values())
    lowest = kept_below(kept, float("inf"))[:3]  # every document, the worst first
    return {
        "visible_words": visible,
        "kept_words": words,
        "kept_share": round(words / visible, 3) if visible else 1.0,
        "lowest_kept": [{"source": source, "share": round(k.share, 3)} for source, k in lowest],
        "boxes": boxes,
        "lost_boxes": lost_boxes,
        "expected_missing": missing,
    }


def _chrome_starts(texts: dict[str, str]) -> set[str]:
    """Opening lines (40 characters) that start passages of three or more documents: navigation and
    other chrome look like this; content rarely does."""
    seen: dict[str, set[str]] = {}
    for doc, text in texts.items():
        for line in text.splitlines():
            key = " ".join(line.split())[:40]
            if len(key) >= 12:
                seen.setdefault(key, set()).add(doc)
    return {k for k, docs in seen.items() if len(docs) >= 3}


def run_realdocs(
    settings: Settings,
    embedder: Embedder,
    folder: Path,
    pdf: Path | None = None,
    top_k: int = 5,
) -> dict[str, Any]:
    """Build a fresh index of `folder/corpus` (or of the one file `pdf`) and ask every question of
    `folder/questions.jsonl` over HTTP; returns the figures and every answer."""
    from assistant.serving.api import create_app  # FastAPI only for this command, not for `assistant eval`

    questions = load_questions(folder / "questions.jsonl")
    work = Path(tempfile.mkdtemp(prefix="assistant-realdocs-"))
    try:
        if pdf is not None:
            corpus = work / "corpus"
            corpus.mkdir()
            shutil.copy(pdf, corpus / pdf.name)
        else:
            corpus = folder / "corpus"
        local = settings.model_copy(
            update={"corpus": corpus, "index": work / "index", "store_schema": "assistant_eval_realdocs"}
        )
        assistant = Assistant(local, embedder)
        began = time.perf_counter()
        built = assistant.build()
        build_s = time.perf_counter() - began
        store = assistant.store()
        sources = {d.source: d for d in store.documents.values()}
        extraction = (
            check_extraction(folder, questions, sources, kept_from_manifest(store.manifest.get("kept", {})))
            if pdf is None
            else None
        )
        chrome = _chrome_starts({d.id: d.text for d in store.documents.values()}) if pdf is None else set()
        rows = []
        with TestClient(create_app(local, assistant)) as client:
            for q in questions:
                response = client.post("/api/answer", json={"question": q.text, "top_k": top_k})
                if response.status_code != 200:  # what the server told its user, not a traceback
                    raise AssistantError(f"the server answered {response.status_code} to {q.text!r}: {response.text}")
                rows.append(_row(q, response.json(), sources, chrome))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "corpus": str(pdf or folder / "corpus"),
        "documents": built.documents,
        "passages": built.passages,
        "sentences": built.sentences,
        "build_s": round(build_s, 1),
        "extraction": extraction,
        "summary": _summary(rows),
        "by_direction": {
            d: _summary([r for r in rows if r["direction"] == d]) for d in sorted({r["direction"] for r in rows})
        },
        "answers": rows,
    }


def _row(q: DevQuestion, body: dict[str, Any], sources: dict[str, Any], chrome: set[str]) -> dict[str, Any]:
    citations = body["citations"]
    files = []
    for c in citations:
        if c["source"] not in files:
            files.append(c["source"])
    answer = body["answer"]["text"] if body["answer"] else None
    target = sources.get(q.file) if q.file else None
    direction = f"{q.language}->{target.language if target else '-'}" if q.file else f"{q.language}->none"
    return {
        "question": q.text,
        "direction": direction,
        "answerable": q.file is not None,
        "file": q.file,
        "in_corpus": target is not None,
        "first": bool(files) and files[0] == q.file,
        "top5": q.file in files[:5],
        "answer": answer,
        "answer_words": len(answer.split()) if answer else None,
        "holds": answer is not None and _holds(answer, q.expected),
        "abstained": body["abstained"],
        "confidence": body["confidence"],
        "citations": len(citations),
        "with_section": sum(bool(c.get("section")) for c in citations),
        "with_page": sum(c.get("page") is not None for c in citations),
        "chrome": sum(" ".join(c["text"].split())[:40] in chrome for c in citations),
        "first_citation": " ".join(citations[0]["text"].split())[:160] if citations else None,
        "section": citations[0].get("section") if citations else None,
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    located = [r for r in answerable if r["in_corpus"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    citations = sum(r["citations"] for r in rows)
    words = [r["answer_words"] for r in rows if r["answer_words"] is not None]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "first": sum(r["first"] for r in located),
        "top5": sum(r["top5"] for r in located),
        "located": len(located),
        "holds": sum(r["holds"] for r in answerable),
        "answered": sum(not r["abstained"] for r in answerable),
        "unanswerable": len(unanswerable),
        "abstained": sum(r["abstained"] for r in unanswerable),
        "short_answers": sum(w <= SHORT_ANSWER_WORDS for w in words),
        "shortest_answer_words": min(words) if words else None,
        "citations": citations,
        "with_section": sum(r["with_section"] for r in rows),
        "with_page": sum(r["with_page"] for r in rows),
        "chrome_citations": sum(r["chrome"] for r in rows),
    }


def format_realdocs(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"{report['corpus']}: {report['documents']} documents, {report['passages']} passages, "
        f"{report['sentences']} sentences, built in {report['build_s']} s",
        "",
        f"{'direction':<10} {'n':>3} {'first':>7} {'top 5':>7} {'holds':>7} {'answered':>9} {'abstained':>10}",
    ]

    def line(name: str, x: dict[str, Any]) -> str:
        loc = x["located"] or 0
        first = f"{x['first']}/{loc}" if loc else "-"
        top5 = f"{x['top5']}/{loc}" if loc else "-"
        holds = f"{x['holds']}/{x['answerable']}" if x["answerable"] else "-"
        answered = f"{x['answered']}/{x['answerable']}" if x["answerable"] else "-"
        abstained = f"{x['abstained']}/{x['unanswerable']}" if x["unanswerable"] else "-"
        return f"{name:<10} {x['questions']:>3} {first:>7} {top5:>7} {holds:>7} {answered:>9} {abstained:>10}"

    for name, x in report["by_direction"].items():
        lines.append(line(name, x))
    lines.append(line("all", s))
    lines += [
        "",
        f"answers of {SHORT_ANSWER_WORDS} words or fewer: {s['short_answers']} "
        f"(shortest {s['shortest_answer_words']}); "
        f"citations: {s['citations']}, with a section {s['with_section']}, with a page {s['with_page']}, "
        f"starting with text repeated across documents {s['chrome_citations']}",
    ]
    x = report.get("extraction")
    if x:
        lowest = ", ".join(f"{d['source']} {d['share']:.0%}" for d in x["lowest_kept"])
        lines.append(
            f"text kept: {x['kept_share']:.1%} of {x['visible_words']} visible words (lowest: {lowest}); "
            f"content boxes: {x['boxes']}, lost {len(x['lost_boxes'])}; "
            f"questions whose expected string is not in their file's text: {len(x['expected_missing'])}"
        )
    return "\n".join(lines)


_ROLE_ROW = re.compile(r"^\|\s*`([^`]+)`.*\*\*(tune|confirm)\*\*", re.MULTILINE)


def collection_roles(folders: list[Path]) -> dict[Path, str]:
    """Each collection's role, tune or confirm, from a README beside or inside the collections
    (`../shared/realdocs-pool/README.md` names `../realdocs` and `gimp/`...); "-" when none says."""
    roles: dict[Path, str] = {}
    readmes = {f.resolve().parent / "README.md" for f in folders}
    readmes |= {f.resolve().parent / sub / "README.md" for f in folders for sub in ("realdocs-pool",)}
    for readme in readmes:
        if readme.is_file():
            for name, role in _ROLE_ROW.findall(readme.read_text(encoding="utf-8")):
                roles[(readme.parent / name).resolve()] = role
    return {f: roles.get(f.resolve(), "-") for f in folders}


_TOTALS = ("first", "located", "holds", "answerable", "answered", "abstained", "unanswerable")


def format_collections(reports: dict[str, dict[str, Any]], roles: dict[str, str]) -> str:
    """One line per collection, then the tune and confirm totals."""
    header = (
        f"{'collection':<16} {'role':<8} {'first':>7} {'across':>7} {'holds':>7} {'fr holds':>8} "
        f"{'answered':>9} {'abstained':>9} {'kept':>6} {'build s':>8}"
    )
    lines = [header]

    def across(r: dict[str, Any]) -> tuple[int, int]:
        rows = [a for a in r["answers"] if a["answerable"] and a["in_corpus"] and a["direction"] in _CROSS]
        return sum(a["first"] for a in rows), len(rows)

    def french(r: dict[str, Any]) -> tuple[int, int]:
        rows = [a for a in r["answers"] if a["answerable"] and a["direction"].startswith("fr->")]
        return sum(a["holds"] for a in rows), len(rows)

    def line(name: str, role: str, group: list[dict[str, Any]]) -> str:
        t = {k: sum(r["summary"][k] for r in group) for k in _TOTALS}
        cross = [sum(x) for x in zip(*(across(r) for r in group), strict=True)]
        fr = [sum(x) for x in zip(*(french(r) for r in group), strict=True)]
        kept = [r["extraction"] for r in group if r.get("extraction")]
        share = sum(k["kept_words"] for k in kept) / max(1, sum(k["visible_words"] for k in kept)) if kept else None
        return (
            f"{name:<16} {role:<8} {t['first']:>3}/{t['located']:<3} {cross[0]:>3}/{cross[1]:<3} "
            f"{t['holds']:>3}/{t['answerable']:<3} {fr[0]:>4}/{fr[1]:<3} {t['answered']:>5}/{t['answerable']:<3} "
            f"{t['abstained']:>5}/{t['unanswerable']:<3} {f'{share:.0%}' if share is not None else '-':>6} "
            f"{sum(r['build_s'] for r in group):>8.1f}"
        )

    for name, report in reports.items():
        lines.append(line(name, roles[name], [report]))
    for role in ("tune", "confirm"):
        group = [reports[n] for n in reports if roles[n] == role]
        if group:
            lines.append(line(f"{role} total", role, group))
    return "\n".join(lines)


_CROSS = frozenset({"en->fr", "fr->en"})
