"""Tokenisation: the ids tokenizer.json gives, from one small copy of the vocabulary per process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from assistant.models.provision import provision_default_model
from assistant.models.tokenizer import PieceTokenizer, load_tokenizer

from .conftest import EVAL_DIR
from .test_provision import ENGLISH, FRENCH

AWKWARD = [
    "",
    "   ",
    "a\tb\nc\r\nd",
    "Ça va ?  Très   bien…",
    "l’été, l'hiver « guillemets » — tirets – et ½ ﬁn",
    "<mask> <s></s><pad> x<unk>y </s>",
    "🙂 日本語のテキスト Ελληνικά العربية",
    "\u00a0espace insécable\u202fet\u200bzéro",
    "C++ / C# -- 3.14 $HOME ~/.bashrc 'apt-get install' \"x\"",
    "x" * 700,
    "mot " * 300,
]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture(scope="module")
def path(model_cache: Path) -> Path:
    return provision_default_model(model_cache) / "tokenizer.json"


def _texts() -> list[str]:
    texts = [*ENGLISH, *FRENCH, *AWKWARD]
    if EVAL_DIR.is_dir():  # every paragraph and question of the benchmark
        for name in ("piaf-v1.0.json", "xquad.en.json", "xquad.es.json", "xquad.de.json"):
            for article in json.loads((EVAL_DIR / name).read_text(encoding="utf-8"))["data"]:
                for paragraph in article["paragraphs"]:
                    texts += [paragraph["context"], *(qa["question"] for qa in paragraph["qas"])]
    return texts


def test_the_ids_are_those_tokenizer_json_gives(path: Path) -> None:
    """e5's unigram vocabulary runs in SentencePiece; every text, pair and truncation gives the
    ids of the `tokenizers` library reading tokenizer.json, or, where two segmentations of a
    word score exactly the same ("xxxxxxxx": "xxx"+"xx" or "xx"+"xxx"; one line in 15,000 of
    the real collections), the other of the two best."""
    mine, reference = load_tokenizer(path), Tokenizer.from_file(str(path))
    assert isinstance(mine, PieceTokenizer)
    scores = [score for _, score in json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]]
    texts = _texts()
    ties = 0
    for truncation in (None, 512, 96, 8):
        if truncation:
            mine.enable_truncation(truncation)
            reference.enable_truncation(max_length=truncation)
        pairs = list(zip(texts[::2], texts[1::2], strict=False))[:3000]
        for inputs in (texts, pairs):
            for got, expected in zip(mine.encode_batch(inputs), reference.encode_batch(inputs), strict=True):
                if got.ids != expected.ids:
                    ties += 1
                    assert len(got.ids) == len(expected.ids)
                    if truncation is None:  # cut short, two segmentations cover different lengths
                        assert reference.decode(got.ids) == reference.decode(expected.ids)
                        assert sum(scores[i] for i in got.ids) == pytest.approx(sum(scores[i] for i in expected.ids))
    assert ties <= 40  # "x" * 700 and its truncations, the pairs it is in
    assert mine.token_to_id("<pad>") == reference.token_to_id("<pad>") == 1
    assert mine.token_to_id("[PAD]") is None


def test_one_small_vocabulary_serves_every_tokenizer(path: Path) -> None:
    """The embedder and the reader each have their own truncation, over one copy of the
    250,000-piece vocabulary (the `tokenizers` library held about 280 MB of it, per copy)."""
    first = load_tokenizer(path)
    before = _rss_mb()
    others = [load_tokenizer(path) for _ in range(3)]
    assert _rss_mb() - before < 10  # the vocabulary is not read again
    others[0].enable_truncation(8)
    assert max(len(e.ids) for e in others[0].encode_batch(AWKWARD)) == 8
    assert max(len(e.ids) for e in first.encode_batch(AWKWARD)) > 8


def test_the_vocabulary_takes_little_memory(path: Path) -> None:
    probe = (
        "import sys; from pathlib import Path; from assistant.models.tokenizer import load_tokenizer\n"
        "rss = lambda: int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) / 1024\n"
        "before = rss(); t = load_tokenizer(Path(sys.argv[1])); t.encode_batch(['bonjour']); print(rss() - before)"
    )
    grown = float(subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True).stdout)
    assert grown < 120  # MB; the `tokenizers` library takes about 280
