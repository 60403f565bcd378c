"""The benchmark's data: PIAF and XQuAD questions, the answer reader's train/test split by
article, and the samples `assistant eval` draws (answerable, held-out, near-topic)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SLICES = {"fr->fr": 500, "en->en": 400, "es->en": 300, "de->en": 300}


REPORTED_SEED = 0  # the run whose figures the README quotes; calibration never uses its questions


ABSTENTION_QUESTIONS = 600


@dataclass(frozen=True)
class Question:
    slice: str
    text: str
    gold: str  # document id of the gold paragraph
    answers: tuple[str, ...]
    article: str
    train: bool  # from a train article of the answer reader (never asked by the benchmark)


def train_article(dataset: str, title: str, position: int) -> bool:
    """The answer reader's split, by article: PIAF articles whose sha256(title) is even, XQuAD
    articles at an even position (the same articles in every language)."""
    if dataset == "piaf":
        return int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16) % 2 == 0
    return position % 2 == 0


@dataclass
class Benchmark:
    documents: dict[str, tuple[str, str, str]]  # id -> (title, language, text)
    questions: dict[str, list[Question]] = field(default_factory=dict)


def read_squad(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["data"]  # type: ignore[no-any-return]


def load_benchmark(eval_dir: Path) -> Benchmark:
    piaf = read_squad(eval_dir / "piaf-v1.0.json")
    xquad = {lang: read_squad(eval_dir / f"xquad.{lang}.json") for lang in ("en", "es", "de")}
    bench = Benchmark(documents={})
    fr: list[Question] = []
    for a, article in enumerate(piaf):
        train = train_article("piaf", article["title"], a)
        for p, para in enumerate(article["paragraphs"]):
            doc = f"piaf-{a:03d}-{p:02d}"
            bench.documents[doc] = (article["title"], "fr", para["context"])
            for qa in para["qas"]:
                answers = tuple(x["text"] for x in qa["answers"])
                fr.append(Question("fr->fr", qa["question"], doc, answers, article["title"], train))
    bench.questions["fr->fr"] = fr
    english_answers: dict[str, tuple[str, ...]] = {}
    for a, article in enumerate(xquad["en"]):
        for p, para in enumerate(article["paragraphs"]):
            bench.documents[f"xquad-{a:02d}-{p:02d}"] = (article["title"], "en", para["context"])
            for qa in para["qas"]:
                english_answers[qa["id"]] = tuple(x["text"] for x in qa["answers"])
    for lang in ("en", "es", "de"):
        items = []
        for a, article in enumerate(xquad[lang]):
            title = xquad["en"][a]["title"]
            for p, para in enumerate(article["paragraphs"]):
                for qa in para["qas"]:
                    answers = english_answers.get(qa["id"], tuple(x["text"] for x in qa["answers"]))
                    doc = f"xquad-{a:02d}-{p:02d}"
                    train = train_article("xquad", title, a)
                    items.append(Question(f"{lang}->en", qa["question"], doc, answers, title, train))
        bench.questions[f"{lang}->en"] = items
    return bench


def held_out(article: str) -> bool:
    """Half of the articles, chosen by a hash of the title (stable across runs and machines)."""
    return hashlib.sha256(article.encode("utf-8")).digest()[0] % 2 == 1


def write_corpus(folder: Path, documents: dict[str, tuple[str, str, str]]) -> None:
    folder.mkdir(parents=True)
    metadata = {}
    for doc_id, (title, lang, text) in documents.items():
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        metadata[f"{doc_id}.txt"] = {"id": doc_id, "title": title, "language": lang}
    (folder / "metadata.json").write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")


def contains(sentence: str | None, answers: tuple[str, ...]) -> bool:
    if not sentence:
        return False
    low = sentence.lower()
    return any(a.strip().lower() in low for a in answers if a.strip())


PRIMARY_ABSTENTION_SLICES = ("fr->fr", "en->en")


NEAR_TOPIC_PARAGRAPHS = {"piaf": 60, "xquad": 25}  # removed from the abstention index


NEAR_TOPIC_QUESTIONS = 200  # at most, per slice


def abstention_sample(
    bench: Benchmark,
    rng: random.Random,
    per_slice: int,
    slices: tuple[str, ...],
    train: bool = False,
    removed: frozenset[str] = frozenset(),
) -> list[tuple[Question, bool]]:
    """`per_slice` questions of each slice (of test articles, or of train articles with
    `train`), half about indexed articles, half about held-out ones; none about a `removed`
    paragraph."""
    sample: list[tuple[Question, bool]] = []
    for name in slices:
        pool = [q for q in bench.questions[name] if q.train == train]
        inside = [q for q in pool if not held_out(q.article) and q.gold not in removed]
        outside = [q for q in pool if held_out(q.article)]
        sample += [(q, True) for q in rng.sample(inside, min(len(inside), per_slice // 2))]
        sample += [(q, False) for q in rng.sample(outside, min(len(outside), per_slice // 2))]
    return sample


def near_topic_paragraphs(bench: Benchmark, rng: random.Random, train: bool = False) -> frozenset[str]:
    """Paragraphs of indexed (not held-out) articles to leave out of the abstention index: their
    questions are near-topic (the article's other paragraphs stay)."""
    chosen: set[str] = set()
    for dataset, count in NEAR_TOPIC_PARAGRAPHS.items():
        name = "fr->fr" if dataset == "piaf" else "en->en"
        golds = sorted({q.gold for q in bench.questions[name] if q.train == train and not held_out(q.article)})
        chosen |= set(rng.sample(golds, min(count, len(golds))))
    return frozenset(chosen)


def near_topic_sample(
    bench: Benchmark, rng: random.Random, removed: frozenset[str], slices: tuple[str, ...]
) -> dict[str, list[Question]]:
    """Per slice, questions whose paragraph is `removed` (their own article is indexed)."""
    out = {}
    for name in slices:
        pool = [q for q in bench.questions[name] if q.gold in removed]
        out[name] = rng.sample(pool, min(NEAR_TOPIC_QUESTIONS, len(pool)))
    return out


@dataclass(frozen=True)
class Draw:
    """The questions one run of the benchmark asks."""

    slices: dict[str, list[Question]]
    abstention: list[tuple[Question, bool]]  # French and English, the headline
    abstention_cross: dict[str, list[tuple[Question, bool]]]  # es->en and de->en, beside it
    removed: frozenset[str] = frozenset()  # paragraphs left out of the abstention index
    near_topic: dict[str, list[Question]] = field(default_factory=dict)  # their questions, per slice

    def texts(self) -> set[str]:
        asked = [q for qs in self.slices.values() for q in qs] + [q for q, _ in self.abstention]
        near = {q.text for qs in self.near_topic.values() for q in qs}
        return {q.text for q in asked} | {q.text for sample in self.abstention_cross.values() for q, _ in sample} | near


def draw(bench: Benchmark, seed: int, sizes: dict[str, int], abstention_questions: int) -> Draw:
    """The questions of a run with `seed` (test articles only): the same seed always draws the same ones."""
    rng = random.Random(seed)
    slices = {}
    for name, n in sizes.items():
        pool = [q for q in bench.questions[name] if not q.train]
        slices[name] = rng.sample(pool, min(n, len(pool)))
    per_slice = abstention_questions // len(PRIMARY_ABSTENTION_SLICES)
    removed = near_topic_paragraphs(bench, rng)
    primary = abstention_sample(bench, rng, per_slice, PRIMARY_ABSTENTION_SLICES, removed=removed)
    cross = {name: abstention_sample(bench, rng, per_slice, (name,), removed=removed) for name in ("es->en", "de->en")}
    near = near_topic_sample(bench, rng, removed, tuple(SLICES))
    return Draw(slices, primary, cross, removed, near)


def abstention_corpus(bench: Benchmark, removed: frozenset[str]) -> dict[str, tuple[str, str, str]]:
    """The abstention index's documents: held-out articles and `removed` paragraphs left out."""
    return {d: v for d, v in bench.documents.items() if not held_out(v[0]) and d not in removed}
