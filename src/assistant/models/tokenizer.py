"""Tokenisation for the fast runtimes, as the model directory's tokenizer.json says.

A unigram vocabulary (e5's and XLM-R's 250,000 pieces) is run by SentencePiece, from the
pieces, scores and ids of tokenizer.json: the `tokenizers` library holds that vocabulary in
about 280 MB (a trie of hash maps), SentencePiece in about 40 MB. The text is still split on
special tokens, normalised and cut into words by tokenizer.json's own normalizer and
pre-tokenizer (the `tokenizers` library without the vocabulary), and framed by its own
template, so the ids are the ones tokenizer.json gives (tests/test_tokenizer.py compares them
on thousands of texts). Any other layout (WordPiece, BPE, byte fallback, ...) is tokenised by
the `tokenizers` library itself. Either way each caller gets a tokenizer of its own
(truncation is per tokenizer) over one copy of the vocabulary per process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

Text = str | tuple[str, str]


def load_tokenizer(path: Path) -> PieceTokenizer | Tokenizer:
    """A tokenizer of its own over the vocabulary of `path` (a tokenizer.json), loaded once per process."""
    pieces = _pieces(path.resolve())
    return PieceTokenizer(pieces) if pieces is not None else _shared_copy(path)


@dataclass(frozen=True)
class _Ids:
    ids: list[int]


@dataclass(frozen=True)
class _Pieces:
    """A unigram vocabulary in SentencePiece, with what tokenizer.json says around it."""

    processor: Any  # sentencepiece.SentencePieceProcessor
    words: Tokenizer  # tokenizer.json's normalizer and pre-tokenizer, with no vocabulary
    special: dict[str, int]  # special tokens as written in a text: their ids
    split: re.Pattern[str] | None
    single: tuple[tuple[int, ...], tuple[int, ...]]  # ids before and after a text
    pair: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]  # before, between and after two


class PieceTokenizer:
    """tokenizer.json's unigram vocabulary run by SentencePiece (`load_tokenizer`)."""

    def __init__(self, pieces: _Pieces) -> None:
        self._pieces = pieces
        self.truncation: dict[str, int] | None = None

    def no_padding(self) -> None:  # it never pads
        pass

    def enable_truncation(self, max_length: int) -> None:
        self.truncation = {"max_length": max_length}

    def token_to_id(self, token: str) -> int | None:
        processor = self._pieces.processor
        found = int(processor.piece_to_id(token))
        return found if processor.id_to_piece(found) == token else None

    def encode_batch(self, inputs: Sequence[Text], add_special_tokens: bool = True) -> list[Any]:  # of `_Ids`
        return [self._encode(item, add_special_tokens) for item in inputs]

    def _encode(self, item: Text, specials: bool) -> _Ids:
        p = self._pieces
        limit = self.truncation["max_length"] if self.truncation else None
        if isinstance(item, str):
            before, after = p.single if specials else ((), ())
            ids = self._ids(item)
            if limit is not None:
                ids = ids[: max(0, limit - len(before) - len(after))]
            return _Ids([*before, *ids, *after])
        first, second = self._ids(item[0]), self._ids(item[1])
        before, between, after = p.pair if specials else ((), (), ())
        if limit is not None:
            first, second = _longest_first(first, second, limit - len(before) - len(between) - len(after))
        return _Ids([*before, *first, *between, *second, *after])

    def _ids(self, text: str) -> list[int]:
        p = self._pieces
        parts = p.split.split(text) if p.split is not None else [text]
        out: list[int] = []
        for part in parts:
            if part in p.special:
                out.append(p.special[part])
            elif part:
                normalized = p.words.normalizer.normalize_str(part) if p.words.normalizer else part
                encode = p.processor.encode  # word by word: its list form starts threads, 50 times slower
                for word, _ in p.words.pre_tokenizer.pre_tokenize_str(normalized):
                    out.extend(encode(word))
        return out


def _longest_first(first: list[int], second: list[int], room: int) -> tuple[list[int], list[int]]:
    """The `tokenizers` library's "longest first" truncation of a pair to `room` ids in all:
    the longer text loses its end first, down to the shorter one's length, then both share."""
    n1, n2 = len(first), len(second)
    if n1 + n2 <= room:
        return first, second
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > room else max(n1, room - n1)
    if n1 + n2 > room:
        n1 = room // 2
        n2 = n1 + room % 2
    if swap:
        n1, n2 = n2, n1
    return first[: max(0, n1)], second[: max(0, n2)]


@functools.lru_cache(maxsize=4)
def _pieces(path: Path) -> _Pieces | None:
    """The vocabulary of `path` in SentencePiece, when its layout is one this reproduces exactly."""
    with path.open(encoding="utf-8") as f:
        spec = json.load(f)
    model, added = spec.get("model") or {}, spec.get("added_tokens") or []
    template = spec.get("post_processor") or {}
    pre = spec.get("pre_tokenizer") or {}
    if (
        model.get("type") != "Unigram"
        or model.get("byte_fallback")
        or pre.get("type") != "Metaspace"
        or pre.get("prepend_scheme", "always") != "always"  # each piece of text between special tokens starts a word
        or template.get("type") != "TemplateProcessing"
        or any(
            not token.get("special") or token.get("normalized") or token.get("lstrip") or token.get("rstrip")
            for token in added
        )
    ):
        return None
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    pb: Any = sentencepiece_model_pb2  # generated protobuf classes, without type stubs

    vocabulary = model["vocab"]
    special = {token["content"]: int(token["id"]) for token in added}
    proto = pb.ModelProto()
    for piece, score in vocabulary:
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, score
    unknown = model.get("unk_id")
    for i in special.values():
        if i >= len(vocabulary) or vocabulary[i][0] not in special:
            return None  # an added token outside the pieces
        proto.pieces[i].type = pb.ModelProto.SentencePiece.CONTROL
    if unknown is not None:
        proto.pieces[unknown].type = pb.ModelProto.SentencePiece.UNKNOWN
        proto.trainer_spec.unk_id = unknown
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.bos_id = proto.trainer_spec.eos_id = proto.trainer_spec.pad_id = -1
    # the text reaches SentencePiece already normalised and cut into words (by tokenizer.json's
    # own normalizer and pre-tokenizer): it must not change them
    normalizer = proto.normalizer_spec
    normalizer.name, normalizer.add_dummy_prefix = "identity", False
    normalizer.remove_extra_whitespaces = normalizer.escape_whitespaces = False
    try:
        single = _frame(template["single"], special, ("A",))
        pair = _frame(template["pair"], special, ("A", "B"))
    except (KeyError, TypeError, ValueError):
        return None
    processor = sentencepiece.SentencePieceProcessor(model_proto=proto.SerializeToString())
    words = dict(spec, model={"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"})
    words.update(added_tokens=[], post_processor=None, decoder=None, truncation=None, padding=None)
    splitter = sorted(special, key=len, reverse=True)
    pieces = _Pieces(
        processor=processor,
        words=Tokenizer.from_str(json.dumps(words)),
        special=special,
        split=re.compile("(" + "|".join(map(re.escape, splitter)) + ")") if splitter else None,
        single=(single[0], single[1]),
        pair=(pair[0], pair[1], pair[2]),
    )
    del spec, vocabulary, proto, words
    _return_freed_memory()
    return pieces


def _frame(items: list[dict[str, Any]], special: dict[str, int], sequences: tuple[str, ...]) -> list[tuple[int, ...]]:
    """The special ids before, between and after the sequences of a template."""
    parts: list[list[int]] = [[]]
    expected = iter(sequences)
    for item in items:
        if "SpecialToken" in item:
            parts[-1].append(special[item["SpecialToken"]["id"]])
        elif item["Sequence"]["id"] == next(expected):
            parts.append([])
        else:
            raise ValueError("sequences out of order")
    if len(parts) != len(sequences) + 1:
        raise ValueError("a sequence is missing")
    return [tuple(p) for p in parts]


def _return_freed_memory() -> None:
    """Hand the parsed tokenizer.json (about 100 MB of small objects, freed) back to the system:
    glibc keeps freed small allocations for the process unless asked. Elsewhere, nothing."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass


@functools.lru_cache(maxsize=4)
def _vocabulary(path: Path) -> Tokenizer:
    return Tokenizer.from_file(str(path))


def _shared_copy(path: Path) -> Tokenizer:
    """A `tokenizers` tokenizer of its own over the vocabulary model of `path`, read once per process."""
    shared = _vocabulary(path.resolve())
    own = Tokenizer(shared.model)  # the model object itself, not a copy
    own.normalizer, own.pre_tokenizer = shared.normalizer, shared.pre_tokenizer
    own.post_processor, own.decoder = shared.post_processor, shared.decoder
    added = shared.get_added_tokens_decoder()
    for token_id in sorted(added):  # in their order: a token outside the model's vocabulary gets the next id
        token = added[token_id]
        (own.add_special_tokens if token.special else own.add_tokens)([token])
    if sorted(own.get_added_tokens_decoder()) != sorted(added):  # a layout this cannot rebuild: a copy
        return Tokenizer.from_file(str(path))
    return own
