"""The evaluation harness's own logic (the full benchmark is `assistant eval`, not a test)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.evaluation.benchmark import auroc, format_report, run_eval
from assistant.evaluation.data import (
    PRIMARY_ABSTENTION_SLICES,
    SLICES,
    abstention_corpus,
    abstention_sample,
    draw,
    held_out,
    load_benchmark,
)

from .conftest import EVAL_DIR


def test_auroc() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1, 0.2], [0.9, 0.8]) == 0.0
    assert auroc([0.5, 0.5], [0.5, 0.5]) == 0.5
    assert auroc([0.9, 0.3], [0.5, 0.1]) == 0.75


def test_held_out_split_is_stable_and_about_half() -> None:
    titles = [f"Article {i}" for i in range(400)]
    first = [held_out(t) for t in titles]
    assert first == [held_out(t) for t in titles]
    assert 0.4 < sum(first) / len(first) < 0.6


@pytest.mark.skipif(not (EVAL_DIR / "piaf-v1.0.json").exists(), reason="../shared/eval is not beside the checkout")
def test_benchmark_matches_its_description() -> None:
    bench = load_benchmark(EVAL_DIR)
    langs = [lang for _, lang, _ in bench.documents.values()]
    assert len(bench.documents) == 1001 and langs.count("fr") == 761 and langs.count("en") == 240
    for name in ("es->en", "de->en"):
        q = bench.questions[name][0]
        assert q.gold.startswith("xquad-") and bench.documents[q.gold][1] == "en"
    sample = abstention_sample(bench, random.Random(0), 100, PRIMARY_ABSTENTION_SLICES)
    assert len(sample) == 200 and sum(ok for _, ok in sample) == 100
    assert all(held_out(q.article) != ok for q, ok in sample)


@pytest.mark.skipif(not (EVAL_DIR / "piaf-v1.0.json").exists(), reason="../shared/eval is not beside the checkout")
def test_a_seed_always_asks_the_same_questions() -> None:
    # the calibration of the abstention model leaves out exactly what the reported run asks
    bench = load_benchmark(EVAL_DIR)
    first, again, other = draw(bench, 0, SLICES, 600), draw(bench, 0, SLICES, 600), draw(bench, 1, SLICES, 600)
    assert first.texts() == again.texts()
    assert [len(qs) for qs in first.slices.values()] == list(SLICES.values())
    assert len(first.abstention) == 600 and all(len(s) == 300 for s in first.abstention_cross.values())
    assert first.texts() != other.texts()


@pytest.mark.skipif(not (EVAL_DIR / "piaf-v1.0.json").exists(), reason="../shared/eval is not beside the checkout")
def test_the_benchmark_asks_only_what_the_reader_never_saw() -> None:
    bench = load_benchmark(EVAL_DIR)
    drawn = draw(bench, 0, SLICES, 600)
    asked = [q for qs in drawn.slices.values() for q in qs] + [q for q, _ in drawn.abstention]
    asked += [q for qs in drawn.near_topic.values() for q in qs]
    assert asked and not any(q.train for q in asked)  # test articles only
    # near-topic: the question's paragraph is left out of the abstention index, its article is not
    kept = abstention_corpus(bench, drawn.removed)
    for questions in drawn.near_topic.values():
        assert questions and all(q.gold not in kept and not held_out(q.article) for q in questions)
    assert all(q.gold in kept for q, answerable in drawn.abstention if answerable)
    # the split is by article: every question of an article falls on the same side
    sides: dict[str, set[bool]] = {}
    for questions in bench.questions.values():
        for q in questions:
            sides.setdefault(q.article, set()).add(q.train)
    assert all(len(s) == 1 for s in sides.values())


# A tiny benchmark in the SQuAD format of ../shared/eval: every paragraph is about an invented
# place with its own name, found by its name in any language.
PLACES = [
    "".join(chr(97 + int(c, 16)) for c in hashlib.sha256(str(i).encode()).hexdigest()[:10]).capitalize()
    for i in range(24)
]


def _squad_file(path: Path, articles: list[dict[str, object]]) -> None:
    path.write_text(json.dumps({"version": "test", "data": articles}, ensure_ascii=False), encoding="utf-8")


def _article(title: str, places: list[str], language: str, ids: str) -> dict[str, object]:
    paragraphs = []
    for p, place in enumerate(places):
        if language == "fr":
            context = f"{place} est une ville de {p + 3} ponts. Son maire s'appelle Oskar {place}."
            question, answer = f"Combien de ponts compte {place} ?", f"{p + 3} ponts"
        else:
            context = f"{place} is a town with {p + 3} bridges. Its mayor is called Oskar {place}."
            question = {
                "en": f"How many bridges does {place} have?",
                "es": f"¿Cuántos puentes tiene {place}?",
                "de": f"Wie viele Brücken hat {place}?",
            }[language]
            answer = f"{p + 3} bridges"
        start = context.index(answer) if answer in context else 0
        paragraphs.append(
            {
                "context": context,
                "qas": [
                    {"id": f"{ids}-{p}", "question": question, "answers": [{"text": answer, "answer_start": start}]}
                ],
            }
        )
    return {"title": title, "paragraphs": paragraphs}


@pytest.fixture
def tiny_benchmark(tmp_path: Path) -> Path:
    folder = tmp_path / "eval"
    folder.mkdir()
    piaf = [_article(f"Ville {a}", PLACES[a * 2 : a * 2 + 2], "fr", f"piaf{a}") for a in range(8)]
    _squad_file(folder / "piaf-v1.0.json", piaf)
    for language in ("en", "es", "de"):
        articles = [_article(f"Town {a}", PLACES[16 + a : 17 + a], language, f"xq{a}") for a in range(8)]
        _squad_file(folder / f"xquad.{language}.json", articles)
    return folder


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_on_a_tiny_dataset(tiny_benchmark: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    bench = load_benchmark(tiny_benchmark)
    tests = {name: [q for q in qs if not q.train] for name, qs in bench.questions.items()}
    sizes = {name: len(qs) for name, qs in tests.items()}
    assert all(sizes.values())
    settings = Settings(reader=False)
    report = run_eval(settings, embedder, tiny_benchmark, tmp_path / "cache.sqlite", 0, sizes, 8, False)
    assert report["passages"] == len(bench.documents) == 24 and report["reader"] is None
    for name, figures in report["slices"].items():
        assert figures["questions"] == sizes[name]
        # the names find their paragraphs, across languages too (names are the same in any language)
        assert figures["R@1"] == figures["R@5"] == figures["MRR@10"] == 1.0, (name, figures)
        assert 0.0 <= figures["answered"] <= 1.0 and figures["ms_p50"] <= figures["ms_p95"]
    abstention = report["abstention"]
    assert abstention["indexed_passages"] == len(abstention_corpus(bench, draw(bench, 0, sizes, 8).removed))
    assert set(abstention["by_slice"]) == set(SLICES) and set(abstention["near_topic"]) == set(SLICES)
    text = format_report(report)
    assert all(name in text for name in SLICES) and "near-topic" in text and "AUROC" in text
    assert json.loads(json.dumps(report)) == report  # what `--json` writes
