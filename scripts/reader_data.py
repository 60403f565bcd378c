"""The answer reader's training data (`train_reader.py`): for each question of the train (or
test) articles, the sentences of its paragraph, one holding the answer, and near-topic sentences
of the same article that do not hold it; and the labelled (question, sentence) pairs trained on."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.evaluation.data import train_article
from assistant.ingest.passages import split_sentences
from assistant.models import reader_model
from assistant.models.embedding import Embedder

GOLD_NEGATIVES = 4
SIBLING_NEGATIVES = 4
# The article's other sentences closest to the question (what the search offers when the answer
# is not indexed) as negatives too: none by default, measured no better (docs/reader.md#what-was-tried)
RETRIEVED_NEGATIVES = 0


@dataclass(frozen=True)
class Item:
    language: str
    question: str
    title: str
    gold: list[str]  # sentences of the gold paragraph
    positive: int  # index in gold of the sentence holding the answer; -1: the paragraph does not answer
    sibling: list[str]  # sentences of another paragraph of the same article, without the answer
    others: tuple[str, ...] = ()  # sentences of all other paragraphs of the article, without the answer
    retrieved: tuple[str, ...] = ()  # of those, the closest to the question (`with_retrieved`)


def _sentences(context: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in split_sentences(context)]


def _item(
    language: str, question: str, title: str, paragraphs: list[str], p: int, start: int, answer: str, rng: random.Random
) -> Item | None:
    context = paragraphs[p]
    spans = _sentences(context)
    end = start + len(answer)
    holding = [i for i, (a, b) in enumerate(spans) if a <= start and end <= b]
    if not holding or not answer.strip():
        return None  # the answer crosses a sentence boundary (or the offset is off)
    low = answer.strip().lower()
    gold = [context[a:b] for a, b in spans]
    others = [p2 for p2 in range(len(paragraphs)) if p2 != p]
    sibling: list[str] = []
    if others:
        text = paragraphs[rng.choice(others)]
        sibling = [text[a:b] for a, b in _sentences(text) if low not in text[a:b].lower()]
    rest = tuple(
        paragraphs[p2][a:b]
        for p2 in others
        for a, b in _sentences(paragraphs[p2])
        if low not in paragraphs[p2][a:b].lower()
    )
    return Item(language, question, title, gold, holding[0], sibling, rest)


def with_retrieved(items: list[Item], embedder: Embedder, keep: int) -> list[Item]:
    """Each item with the `keep` sentences of its article's other paragraphs closest to the
    question by the embedding model: what the search offers the reader when the documents
    hold the subject but not the answer (the near-topic case), harder than a random sibling."""
    texts = sorted({s for it in items for s in it.others})
    where = {t: i for i, t in enumerate(texts)}
    vectors = embedder.encode_passages(texts, batch_size=64)
    queries = embedder.encode_queries([it.question for it in items])
    out = []
    for it, q in zip(items, queries, strict=True):
        rows = [where[s] for s in it.others]
        if not rows:
            out.append(it)
            continue
        sims = vectors[rows] @ q
        best = np.argsort(-sims)[:keep]
        out.append(replace(it, retrieved=tuple(it.others[i] for i in best)))
    return out


def load_items(eval_dir: Path, train: bool, rng: random.Random, foreign_text: tuple[str, ...] = ()) -> list[Item]:
    """Questions of the train (or test) articles with their candidate sentences."""
    items: list[Item] = []
    piaf = json.loads((eval_dir / "piaf-v1.0.json").read_text(encoding="utf-8"))["data"]
    for position, article in enumerate(piaf):
        if train_article("piaf", article["title"], position) != train:
            continue
        paragraphs = [p["context"] for p in article["paragraphs"]]
        for p, para in enumerate(article["paragraphs"]):
            for qa in para["qas"]:
                a = qa["answers"][0]
                item = _item("fr", qa["question"], article["title"], paragraphs, p, a["answer_start"], a["text"], rng)
                if item:
                    items.append(item)
    xquad = {
        lang: json.loads((eval_dir / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
        for lang in ("en", "es", "de")
    }
    for position, article in enumerate(xquad["en"]):
        if train_article("xquad", article["title"], position) != train:
            continue
        # (question's language, text's language): each question over the English text, and
        # the English questions over the texts of `foreign_text` too
        directions = [(lang, "en") for lang in ("en", "es", "de")]
        directions += [("en", lang) for lang in foreign_text]
        for asked, written in directions:
            text = xquad[written][position]
            paragraphs = [p["context"] for p in text["paragraphs"]]
            for p, para in enumerate(text["paragraphs"]):
                questions = {qa["id"]: qa["question"] for qa in xquad[asked][position]["paragraphs"][p]["qas"]}
                for qa in para["qas"]:
                    if qa["id"] not in questions:
                        continue
                    a = qa["answers"][0]
                    label = asked if written == "en" else f"{asked}>{written}"
                    item = _item(
                        label, questions[qa["id"]], text["title"], paragraphs, p, a["answer_start"], a["text"], rng
                    )
                    if item:
                        items.append(item)
    return items


def extra_items(eval_dir: Path, names: tuple[str, ...], rng: random.Random) -> list[Item]:
    """Training-only data (`../shared/eval/README.md`): SQuAD 2.0's train articles ("squad2": English,
    half of the questions unanswerable though written to look answerable from their paragraph) and
    techqa ("techqa": FR/EN technical manuals, half across languages, unanswerable ones with a
    plausible span). An unanswerable question's paragraph gives negatives only, the sentence of its
    plausible span first: it names the subject and does not answer, the reader's commonest mistake."""
    files = {"squad2": [eval_dir / "squad-v2.0-train-articles.json"], "techqa": sorted(eval_dir.glob("techqa-*.json"))}
    items: list[Item] = []
    for name in names:
        for path in files[name]:
            for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
                paragraphs = [p["context"] for p in article["paragraphs"]]
                for p, para in enumerate(article["paragraphs"]):
                    for qa in para["qas"]:
                        if not qa.get("is_impossible"):
                            a = qa["answers"][0]
                            item = _item(
                                name, qa["question"], article["title"], paragraphs, p, a["answer_start"], a["text"], rng
                            )
                        else:
                            plausible = (qa.get("plausible_answers") or [{"answer_start": -1}])[0]["answer_start"]
                            spans = _sentences(para["context"])
                            first = [i for i, (a, b) in enumerate(spans) if a <= plausible < b]
                            order = first + [i for i in range(len(spans)) if i not in first]
                            gold = [para["context"][a:b] for a, b in (spans[i] for i in order)]
                            item = Item(name, qa["question"], article["title"], gold, -1, []) if gold else None
                        if item:
                            items.append(item)
    return items


def training_pairs(items: list[Item], rng: random.Random) -> list[tuple[str, str, float]]:
    pairs = []
    for it in items:
        if it.positive < 0:  # unanswerable: its plausible sentence and a few others, all negatives
            negatives = it.gold[:1] + rng.sample(it.gold[1:], min(GOLD_NEGATIVES - 1, len(it.gold) - 1))
            pairs += [(it.question, reader_model.pair(it.question, it.title, s)[1], 0.0) for s in negatives]
            continue
        pairs.append((it.question, reader_model.pair(it.question, it.title, it.gold[it.positive])[1], 1.0))
        negatives = [s for i, s in enumerate(it.gold) if i != it.positive]
        negatives = rng.sample(negatives, min(GOLD_NEGATIVES, len(negatives)))
        negatives += rng.sample(it.sibling, min(SIBLING_NEGATIVES, len(it.sibling)))
        negatives += [s for s in it.retrieved[:RETRIEVED_NEGATIVES] if s not in negatives]
        pairs += [(it.question, reader_model.pair(it.question, it.title, s)[1], 0.0) for s in negatives]
    return pairs
