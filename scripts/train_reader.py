"""Train the answerability reader (`assistant.models.reader_model`) from ../shared/eval, reproducibly.

    .venv/bin/python scripts/train_reader.py [--eval-dir ../shared/eval] [--out src/assistant/models/data]

Data: PIAF (French, MIT) and XQuAD en/es/de (CC BY-SA 4.0), split by article: PIAF articles
whose sha256(title) is even and XQuAD articles at an even position (the same articles in every
language) are the train articles; nothing of the other articles is read for training.

Pairs per train question: the sentence holding the answer (positive); up to `GOLD_NEGATIVES`
other sentences of its paragraph and up to `SIBLING_NEGATIVES` sentences of another paragraph
of the same article (near-topic: same subject, no answer). Sentences are split by the
product's own splitter. Spanish and German questions are paired with the English paragraph
(the cross-language case the assistant serves); `--english-over es,de` adds English questions
over the Spanish and German paragraphs (not in the shipped reader, see `FOREIGN_TEXTS`). The
record also measures English questions over Spanish and German text ("en>es", "en>de").

Training: the embeddings and the lowest `FROZEN` layers are frozen, so their token states are
computed once and kept; each epoch runs only the trained layers and the head (binary cross
entropy, positives weighted `POS_WEIGHT`). On 2 CPU cores this takes about 40 minutes; with a
CUDA GPU it uses it. Seeded: a rerun on the same machine gives the same weights; on another
CPU the same figures (2026-12-03), not the same bytes.

Writes `reader.safetensors` (the trained layers and head, float16) and `reader.json` (its
sha256, data, split, seed, settings and the figures on the test articles, measured with the
gold paragraph given: the answer sentence chosen among its paragraph's, and how well the best
gold sentence outscores near-topic sentences, either a random sibling paragraph's or the
`EVAL_RETRIEVED` sentences of the article's other paragraphs closest to the question by the
embedding model, which is what the product's reader reads when the answer is not indexed and
tracks `assistant eval`'s near-topic slice far better).

    .venv/bin/python scripts/train_reader.py --measure src/assistant/models/data/reader.safetensors

only measures given weights (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

from assistant.answering.answer import READER_CANDIDATES
from assistant.config import Settings
from assistant.evaluation.benchmark import auroc
from assistant.files import sha256_file
from assistant.models import reader_model
from assistant.models.embedding import SentenceTransformerEmbedder
from assistant.models.provision import provision_default_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reader_data import (
    GOLD_NEGATIVES,
    RETRIEVED_NEGATIVES,
    SIBLING_NEGATIVES,
    Item,
    extra_items,
    load_items,
    training_pairs,
    with_retrieved,
)

SEED = 13
POS_WEIGHT = 3.0
EPOCHS = 3
BATCH = 32
LEARNING_RATE = 1e-4
HEAD_LEARNING_RATE = 1e-3
TEST_QUESTIONS = 300  # per language, for the figures in the record
# With `--english-over es,de`, English questions over the Spanish and German texts of the same
# articles too; not in the shipped reader (docs/reader.md#what-was-tried)
FOREIGN_TEXTS = ("es", "de")  # the texts the record's "en>es" and "en>de" figures read
# the record's figures: questions by language over their own or the English text, and English
# questions over Spanish and German text ("en>es", "en>de")
FIGURES = ("fr", "en", "es", "de", "en>es", "en>de")
EVAL_RETRIEVED = READER_CANDIDATES  # as many near-topic sentences as the product's reader reads at most


class Batches:
    """Tokenised pairs in length-sorted batches (little padding), in a fixed order."""

    def __init__(self, tokenizer: Tokenizer, pairs: list[tuple[str, str, float]]) -> None:
        encodings = tokenizer.encode_batch([(reader_model.pair(q, "", "")[0], p) for q, p, _ in pairs])
        order = sorted(range(len(pairs)), key=lambda i: len(encodings[i].ids))
        self.batches = []
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            width = max(len(encodings[i].ids) for i in rows)
            ids = torch.full((len(rows), width), 1, dtype=torch.long)  # 1: the model's padding id
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = torch.tensor(encodings[i].ids)
                mask[r, :n] = 1
            labels = torch.tensor([pairs[i][2] for i in rows], dtype=torch.float32)
            self.batches.append((ids, mask, labels))


def tokenizer_for(model_dir: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=reader_model.MAX_TOKENS)
    return tokenizer


def train(
    model_dir: Path,
    items: list[Item],
    device: torch.device,
    rng: random.Random,
    log,
    shape: tuple[int, int] = (reader_model.LAYERS, reader_model.FROZEN),
    teacher: Any = None,  # a trained reader_model.build module, or None
) -> Any:  # reader_model.build's module (its class is made inside build)
    """`shape`: (layers, frozen layers). With a `teacher` (a trained reader), its logits are the
    targets (mean squared error) instead of the labels: distillation into a smaller reader,
    whose trained layers and head start as the teacher's when it trains as many (the teacher's
    trained layers over fewer frozen ones: a start that already reads, where e5's layers do not)."""
    torch.manual_seed(SEED)
    reader = reader_model.build(model_dir, None, layers=shape[0], frozen=shape[1]).to(device)
    if teacher is not None and len(teacher.trained) == len(reader.trained):
        renamed = {
            f"encoder.encoder.layer.{t}.": f"encoder.encoder.layer.{s}."
            for t, s in zip(teacher.trained, reader.trained, strict=True)
        }
        start = {}
        for name, value in teacher.trained_state().items():
            prefix = next((p for p in renamed if name.startswith(p)), None)
            start[renamed[prefix] + name[len(prefix) :] if prefix else name] = value.detach().clone()
        reader.load_state_dict(start, strict=False)
        log(f"trained layers {reader.trained} and head start as the teacher's {teacher.trained}")
    pairs = training_pairs(items, rng)
    log(f"{len(items)} train questions, {len(pairs)} pairs ({sum(p[2] for p in pairs):.0f} positive)")
    batches = Batches(tokenizer_for(model_dir), pairs).batches
    began = time.perf_counter()
    cached = []
    with torch.no_grad():
        for ids, mask, labels in batches:
            states = reader.lower(ids.to(device), mask.to(device))
            if teacher is not None:
                labels = teacher(ids.to(device), mask.to(device)).float().cpu()
            cached.append((states.to(torch.float16), mask, labels))
    tokens = sum(b[0].numel() for b in batches)
    log(f"frozen layers run once over {tokens} tokens in {time.perf_counter() - began:.0f} s")
    names = set(reader.trained_state())
    trained = [p for n, p in reader.named_parameters() if n in names and not n.startswith("head.")]
    for p in reader.parameters():
        p.requires_grad_(False)
    for p in trained + list(reader.head.parameters()):
        p.requires_grad_(True)
    optimiser = torch.optim.AdamW(
        [
            {"params": trained, "lr": LEARNING_RATE},
            {"params": list(reader.head.parameters()), "lr": HEAD_LEARNING_RATE},
        ],
        weight_decay=0.01,
    )
    steps = EPOCHS * len(cached)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / max(1, steps - warmup))
    )
    loss_fn: torch.nn.Module = (
        torch.nn.MSELoss()
        if teacher is not None
        else torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(POS_WEIGHT, device=device))
    )
    reader.train()
    order = list(range(len(cached)))
    for epoch in range(EPOCHS):
        rng.shuffle(order)
        total = 0.0
        began = time.perf_counter()
        for b in order:
            states, mask, labels = cached[b]
            logits = reader.upper(states.to(device, torch.float32), mask.to(device))
            loss = loss_fn(logits, labels.to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        log(f"epoch {epoch + 1}: loss {total / len(order):.4f} in {time.perf_counter() - began:.0f} s")
    return reader.eval()


def evaluate(
    reader: torch.nn.Module, model_dir: Path, items: list[Item], device: torch.device, per_language: int
) -> dict:
    """With the gold paragraph given: does the best-scored sentence hold the answer, and does the
    best sentence of a sibling paragraph score lower than the best of the gold one."""
    tokenizer = tokenizer_for(model_dir)
    figures = {}
    for language in [x for x in FIGURES if any(it.language == x for it in items)]:
        chosen = [it for it in items if it.language == language]
        chosen = random.Random(SEED).sample(chosen, min(per_language, len(chosen)))
        texts, owners = [], []
        for k, it in enumerate(chosen):
            for j, sentence in enumerate(it.gold):
                texts.append(reader_model.pair(it.question, it.title, sentence))
                owners.append((k, "gold", j))
            for kind, others in (("sibling", it.sibling), ("retrieved", it.retrieved)):
                for sentence in others:
                    texts.append(reader_model.pair(it.question, it.title, sentence))
                    owners.append((k, kind, -1))
        scores = score_pairs(reader, tokenizer, texts, device)
        best_gold = [(-math.inf, -1)] * len(chosen)
        best = {"sibling": [-math.inf] * len(chosen), "retrieved": [-math.inf] * len(chosen)}
        for (k, kind, j), score in zip(owners, scores, strict=True):
            if kind == "gold" and score > best_gold[k][0]:
                best_gold[k] = (score, j)
            elif kind != "gold":
                best[kind][k] = max(best[kind][k], score)
        right = sum(best_gold[k][1] == it.positive for k, it in enumerate(chosen))
        answerable = [best_gold[k][0] for k in range(len(chosen))]
        threshold = float(np.quantile(answerable, 0.05))
        figures[language] = {"questions": len(chosen), "sentence_choice": round(right / len(chosen), 3)}
        # near_topic: the best of a random sibling paragraph's sentences; retrieved_near_topic:
        # the best of the article's EVAL_RETRIEVED other sentences closest to the question
        # (what the product's reader sees when the answer is not indexed)
        for kind, name in (("sibling", "near_topic"), ("retrieved", "retrieved_near_topic")):
            near = [v for v in best[kind] if v > -math.inf]
            figures[language][f"{name}_auroc"] = round(auroc(answerable, near), 3)
            figures[language][f"{name}_abstained_at_95_answered"] = round(
                sum(s < threshold for s in near) / len(near), 3
            )
    return figures


def score_pairs(
    reader: torch.nn.Module, tokenizer: Tokenizer, texts: list[tuple[str, str]], device: torch.device
) -> list[float]:
    encodings = tokenizer.encode_batch(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
    out = [0.0] * len(texts)
    with torch.no_grad():
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            width = max(len(encodings[i].ids) for i in rows)
            ids = torch.full((len(rows), width), 1, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = torch.tensor(encodings[i].ids)
                mask[r, :n] = 1
            logits = reader(ids.to(device), mask.to(device)).float().cpu().tolist()
            for i, v in zip(rows, logits, strict=True):
                out[i] = v
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "eval")
    parser.add_argument("--out", type=Path, default=reader_model.READER_WEIGHTS.parent)
    parser.add_argument("--limit", type=int, default=0, help="train on this many questions only (a quick trial)")
    parser.add_argument("--test-questions", type=int, default=TEST_QUESTIONS, help="per language, for the figures")
    parser.add_argument("--measure", type=Path, help="only measure these trained weights on the test articles")
    parser.add_argument("--extra", default="", help="also train on these training-only sets: squad2,techqa")
    parser.add_argument(
        "--english-over", default="", help="also train on English questions over these texts (es,de); not shipped"
    )
    parser.add_argument("--layers", type=int, default=reader_model.LAYERS, help="a trial of another shape")
    parser.add_argument("--frozen", type=int, default=reader_model.FROZEN, help="a trial of another shape")
    parser.add_argument(
        "--distil", action="store_true", help="learn the shipped reader's logits instead of the labels (a trial)"
    )
    args = parser.parse_args()
    if not (args.eval_dir / "piaf-v1.0.json").is_file():
        print(f"no PIAF/XQuAD data in {args.eval_dir}; pass --eval-dir", file=sys.stderr)
        return 2
    if (args.layers, args.frozen) != (reader_model.LAYERS, reader_model.FROZEN) and args.out == parser.get_default(
        "out"
    ):
        print(
            "a reader of another shape is a trial: pass --out (serving reads the shipped shape only)", file=sys.stderr
        )
        return 2
    if args.measure and not args.measure.is_file():
        print(f"no reader weights at {args.measure}", file=sys.stderr)
        return 2
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads()))
    began = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - began:6.0f} s] {text}", flush=True)

    random.seed(SEED)
    np.random.seed(SEED)
    model_dir = provision_default_model(Settings().model_cache)
    rng = random.Random(SEED)
    english_over = tuple(x for x in args.english_over.split(",") if x)
    if not set(english_over) <= set(FOREIGN_TEXTS):
        print(f"--english-over takes languages among {', '.join(FOREIGN_TEXTS)}", file=sys.stderr)
        return 2
    train_items = load_items(args.eval_dir, train=True, rng=rng, foreign_text=english_over)
    extra = tuple(x for x in args.extra.split(",") if x)
    if not set(extra) <= {"squad2", "techqa"}:
        print("--extra takes squad2 and/or techqa", file=sys.stderr)
        return 2
    train_items += extra_items(args.eval_dir, extra, rng)
    if args.limit:
        train_items = rng.sample(train_items, args.limit)
    test_items = load_items(args.eval_dir, train=False, rng=random.Random(SEED + 1))
    test_items += [
        it
        for it in load_items(args.eval_dir, train=False, rng=random.Random(SEED + 2), foreign_text=FOREIGN_TEXTS)
        if ">" in it.language
    ]
    embedder = SentenceTransformerEmbedder(str(model_dir), model_dir.name, device=device.type)
    if RETRIEVED_NEGATIVES and not args.measure:
        train_items = with_retrieved(train_items, embedder, RETRIEVED_NEGATIVES)
    test_items = with_retrieved(test_items, embedder, EVAL_RETRIEVED)
    log("closest other-paragraph sentences found for each question")
    if args.measure:
        reader = reader_model.build(model_dir, args.measure).to(device).eval()
        log(json.dumps(evaluate(reader, model_dir, test_items, device, args.test_questions)))
        return 0
    teacher = reader_model.build(model_dir, reader_model.READER_WEIGHTS).to(device) if args.distil else None
    reader = train(model_dir, train_items, device, rng, log, (args.layers, args.frozen), teacher)
    log("training done; measuring on the test articles")
    figures = evaluate(reader, model_dir, test_items, device, args.test_questions)
    log(json.dumps(figures))
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / reader_model.READER_WEIGHTS.name
    save_file(
        {k: v.detach().to(torch.float16).contiguous().cpu() for k, v in reader.trained_state().items()},
        str(weights),
        metadata={"format": "assistant-reader-1"},
    )
    card = {
        "format": 1,
        "sha256": sha256_file(weights),
        "base_model": model_dir.name,
        "architecture": {
            "layers": args.layers,
            "frozen": args.frozen,
            "max_tokens": reader_model.MAX_TOKENS,
            "pooling": "mean",
            "head": "linear",
        },
        "data": {
            "piaf": "PIAF v1.0, MIT",
            "xquad": "XQuAD en/es/de, CC BY-SA 4.0",
            "train_questions": len(train_items),
        },
        "split": "train articles only: PIAF sha256(title) even, XQuAD article position even",
        "training": {
            "seed": SEED,
            "epochs": EPOCHS,
            "batch": BATCH,
            "lr": LEARNING_RATE,
            "head_lr": HEAD_LEARNING_RATE,
            "pos_weight": POS_WEIGHT,
            "gold_negatives": GOLD_NEGATIVES,
            "sibling_negatives": SIBLING_NEGATIVES,
            "english_questions_over": list(english_over),
            "extra": list(extra),
            "retrieved_negatives": RETRIEVED_NEGATIVES,
            "distilled_from": reader_model.read_card()["sha256"] if args.distil else None,
            "device": device.type,
            "seconds": round(time.perf_counter() - began),
        },
        "figures_test_articles_gold_paragraph": figures,
        "command": "python scripts/train_reader.py",
    }
    (args.out / reader_model.READER_CARD.name).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and its record")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
