"""Bulk indexing on a GPU (ASSISTANT_DEVICE): vectors a CPU server can serve, and clear
behaviour where there is no GPU."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import ModelError
from assistant.models.embedding import Embedder, load_bulk_embedder

torch = pytest.importorskip("torch")
HAS_GPU = torch.cuda.is_available()

TEXTS = [
    "La French Tech Corporate Community regroupe aujourd'hui 90 entreprises.",
    "The Digital Disruption Lab helps large companies work with start-ups.",
    "Debian utilise APT pour installer et mettre à jour les paquets.",
    "To change the keyboard layout, run dpkg-reconfigure keyboard-configuration.",
    "Combien de pays la délégation a-t-elle visités en 2019 ?",
] * 3


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU: the no-GPU behaviour cannot be observed")
def test_cuda_without_a_gpu_is_a_clear_message_and_auto_falls_back(model_cache: object, embedder: Embedder) -> None:
    with pytest.raises(ModelError, match="no CUDA GPU"):
        load_bulk_embedder(Settings(device="cuda", model_cache=model_cache), embedder)
    assert load_bulk_embedder(Settings(device="auto", model_cache=model_cache), embedder) is embedder


@pytest.mark.slow
@pytest.mark.skipif(not HAS_GPU, reason="no CUDA GPU on this machine (torch.cuda.is_available() is False)")
def test_gpu_vectors_are_served_by_the_cpu_backend(model_cache: object, embedder: Embedder) -> None:
    bulk = load_bulk_embedder(Settings(device="cuda", model_cache=model_cache), embedder)
    assert bulk.identity == embedder.identity  # an index built on the GPU is served on the CPU
    gpu, cpu = bulk.encode_passages(TEXTS), embedder.encode_passages(TEXTS)
    assert float(np.min(np.sum(gpu * cpu, axis=1))) >= 0.999
