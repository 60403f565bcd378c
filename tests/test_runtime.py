"""The fast runtimes (OpenVINO, ONNX Runtime) must embed like the torch model they come from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import ModelError
from assistant.models.embedding import load_embedder
from assistant.models.export import CHECKSUM_FILE, export_dir
from assistant.models.provision import model_dir
from assistant.models.runtime import WordRows

from .test_provision import ENGLISH, FRENCH

QUESTIONS = [s for s in ENGLISH + FRENCH if s.rstrip().endswith("?")]
SENTENCES = [s for s in ENGLISH + FRENCH if not s.rstrip().endswith("?")]


@pytest.fixture(scope="module")
def reference(model_cache: Path) -> tuple[str, np.ndarray, np.ndarray]:
    torch = load_embedder(Settings(model_cache=model_cache, backend="torch"))
    return torch.identity, torch.encode_queries(QUESTIONS), torch.encode_passages(SENTENCES)


@pytest.mark.parametrize(("backend", "floor"), [("openvino", 0.9995), ("onnx", 0.9999), ("onnx-int8", 0.97)])
def test_runtime_vectors_match_torch(backend: str, floor: float, model_cache: Path, reference) -> None:  # type: ignore[no-untyped-def]
    identity, ref_q, ref_p = reference
    embedder = load_embedder(Settings(model_cache=model_cache, backend=backend))
    q = embedder.encode_queries(QUESTIONS)
    p = embedder.encode_passages(SENTENCES)
    assert q.shape == ref_q.shape and p.shape == ref_p.shape and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    cosines = np.concatenate([(q * ref_q).sum(axis=1), (p * ref_p).sum(axis=1)])
    assert cosines.min() >= floor, f"{backend}: worst cosine to torch fp32 {cosines.min():.5f}"
    if backend != "onnx-int8":  # int8 reorders near-ties; its retrieval quality is measured by `assistant eval`
        # what a user sees: every question finds the same closest sentence as with torch
        assert ((q @ p.T).argmax(axis=1) == (ref_q @ ref_p.T).argmax(axis=1)).all()
    # Same vectors, same identity (an index built on one backend serves on another); int8 is another model.
    assert (embedder.identity == identity) is (backend != "onnx-int8")


def test_single_and_batched_encodings_agree(model_cache: Path) -> None:
    """Padding inside a length-sorted batch must not change a text's vector, nor its place in the output."""
    embedder = load_embedder(Settings(model_cache=model_cache))
    texts = [*SENTENCES[:9], "x" * 4000]  # longer than the model's window: truncated, not an error
    batched = embedder.encode_passages(texts, batch_size=4)
    alone = np.vstack([embedder.encode_passages([t]) for t in texts])
    assert ((batched * alone).sum(axis=1) > 0.9999).all()


def test_damaged_export_is_rebuilt(tmp_path: Path, model_cache: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(model_dir(model_cache), model_dir(cache))
    first = load_embedder(Settings(model_cache=cache, backend="onnx"))
    target = export_dir(cache, first.identity, "onnx")
    with (target / "model.onnx").open("r+b") as f:
        f.seek(4096)
        f.write(b"\xff" * 64)
    again = load_embedder(Settings(model_cache=cache, backend="onnx"))
    recorded = json.loads((target / CHECKSUM_FILE).read_text())
    assert recorded["runtime"] == "onnx"
    assert np.allclose(again.encode_queries(["bonjour"]), first.encode_queries(["bonjour"]), atol=1e-5)


def test_unsupported_models_get_a_clear_message(tmp_path: Path, model_cache: Path) -> None:
    with pytest.raises(ModelError, match="ASSISTANT_BACKEND=torch"):
        load_embedder(Settings(model="some-org/some-model", model_cache=model_cache))
    custom = tmp_path / "custom-model"
    shutil.copytree(model_dir(model_cache), custom)
    (custom / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 384, "pooling_mode_max_tokens": True})
    )
    with pytest.raises(ModelError, match="pooling"):
        load_embedder(Settings(model=str(custom), model_cache=tmp_path / "cache"))


NO_NETWORK = """
import socket, sys
attempts = []
connect = socket.socket.connect
def refuse(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        attempts.append(address)
        raise OSError("network refused by the test")
    return connect(self, address)
socket.socket.connect = refuse
from assistant.config import Settings
from assistant.models.embedding import load_embedder
vector = load_embedder(Settings()).encode_queries(["Qui coordonne la communauté ?"])
print(vector.shape, attempts)
sys.exit(1 if attempts else 0)
"""


def test_preparing_and_running_the_default_backend_makes_no_network_call(tmp_path: Path, model_cache: Path) -> None:
    """The OpenVINO conversion path must not phone home (its converter tool sends telemetry by default)."""
    cache = tmp_path / "cache"
    shutil.copytree(model_dir(model_cache), model_dir(cache))
    env = {**os.environ, "ASSISTANT_MODEL_CACHE": str(cache)}
    result = subprocess.run([sys.executable, "-c", NO_NETWORK], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(1, 384) []" in result.stdout
    assert any(export_dir(cache, "", "openvino").parent.parent.iterdir())


def test_the_word_embeddings_come_from_the_file_row_by_row(tmp_path: Path) -> None:
    """The OpenVINO graphs get their words' embeddings from the table beside them: the rows
    asked, as numpy would index them, and an id outside the vocabulary is a clear error."""
    table = np.random.default_rng(0).standard_normal((1000, 8)).astype(np.float32)
    np.save(tmp_path / "table.npy", table, allow_pickle=False)
    ids = np.array([[5, 999, 5, 0], [17, 17, 1, 2]], dtype=np.int64)
    rows = WordRows(tmp_path / "table.npy")
    assert np.array_equal(rows.rows(ids), table[ids])
    with pytest.raises(ModelError, match="out of the vocabulary"):
        rows.rows(np.array([[1000]], dtype=np.int64))
