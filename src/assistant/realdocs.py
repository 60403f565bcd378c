"""`assistant eval --realdocs DIR`: a real document collection and its questions, through the HTTP API.

DIR holds `corpus/` (the documents) and `questions.jsonl`, one question a line:
`{"question", "language", "file" (the corpus file that answers it, or null when none does),
"answer_contains" (strings of which the answer sentence should hold one)}` — the format of
`../shared/realdocs/`. A fresh index is built from the documents (nothing reused: the build
time is that of a first build) and every question is asked through `POST /api/answer`, as a
client would. Figures: right file first and in the top 5, answer sentence holding an expected
string, answered/abstained, the shortest answer, citations with a section and a page,
citations that start with text repeated across documents, per language direction.
`--pdf FILE` indexes one document alone instead (the PDF of the same book).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.service import Assistant

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
    from assistant.api import create_app

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
        chrome = _chrome_starts({d.id: d.text for d in store.documents.values()}) if pdf is None else set()
        rows = []
        with TestClient(create_app(local, assistant)) as client:
            for q in questions:
                response = client.post("/api/answer", json={"question": q.text, "top_k": top_k})
                response.raise_for_status()
                rows.append(_row(q, response.json(), sources, chrome))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "corpus": str(pdf or folder / "corpus"),
        "documents": built.documents,
        "passages": built.passages,
        "sentences": built.sentences,
        "build_s": round(build_s, 1),
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
    return "\n".join(lines)
