"""The evaluation harness's own logic (the full benchmark is `assistant eval`, not a test)."""

from __future__ import annotations

import random

import pytest

from assistant.evaluation import (
    PRIMARY_ABSTENTION_SLICES,
    SLICES,
    abstention_corpus,
    abstention_sample,
    auroc,
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
