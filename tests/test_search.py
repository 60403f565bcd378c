"""Hybrid search on a small mixed-language corpus, with the real model.

The French distractors share many words with the French question; the answer sits in an
English document. Keyword search alone puts a French distractor first; the fused ranking
must keep the English answer first (cross-language) while keyword evidence still decides
between same-language passages that differ by a name or a figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.serving.assistant import Assistant
from assistant.text.analysis import analyse, entity_terms
from assistant.text.keywords import LexicalIndex
from assistant.text.question import AnalysedQuestion

pytestmark = pytest.mark.slow

DOCS = {
    "bakers-count.txt": (
        "The Lyon bakers' association counted 312 member shops in 2021, up from 280 the year before. "
        "Most new members opened in the Croix-Rousse and Guillotière districts."
    ),
    "boulangers-concours.txt": (
        "L'association des boulangers lyonnais organise chaque année un concours de la meilleure baguette. "
        "Les boutiques membres de l'association y présentent leurs pains devant un jury de boulangers."
    ),
    "boulangers-formation.txt": (
        "Les boulangers lyonnais membres de l'association suivent une formation sur les farines anciennes. "
        "L'association finance ces journées pour ses boutiques membres."
    ),
    "port-traffic.txt": (
        "The port of Marseille handled 77 million tonnes of cargo in 2022, mostly oil and containers. "
        "Cruise passengers returned to pre-pandemic levels."
    ),
    "port-trafic-rouen.txt": (
        "Le port de Rouen a traité 22 millions de tonnes de marchandises en 2022, surtout des céréales. "
        "Le trafic de conteneurs y reste modeste."
    ),
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory, embedder, model_cache: Path) -> Assistant:  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("toy")
    (base / "corpus").mkdir()
    for name, text in DOCS.items():
        (base / "corpus" / name).write_text(text, encoding="utf-8")
    assistant = Assistant(Settings(corpus=base / "corpus", index=base / "index", model_cache=model_cache), embedder)
    assistant.build()
    return assistant


def test_keyword_matches_do_not_crowd_out_the_other_language(toy: Assistant) -> None:
    question = "Combien de boutiques membres comptait l'association des boulangers lyonnais en 2021 ?"
    store = toy.store()
    lexical, _ = store.lexical.scores(AnalysedQuestion.of(question, "fr"))
    keyword_first = store.passages[int(np.argmax(lexical))].doc_id
    assert keyword_first.startswith("boulangers"), "the premise: keywords alone prefer a French distractor"

    answer = toy.answer(question)
    assert answer.citations[0].document_id == "bakers-count"
    assert "312" in answer.answer.text  # type: ignore[union-attr]
    assert "2021" in answer.citations[0].matched_terms  # figures match across languages


def test_figures_and_names_decide_within_a_language(toy: Assistant) -> None:
    answer = toy.answer("Combien de tonnes le port de Rouen a-t-il traitées ?")
    assert answer.citations[0].document_id == "port-trafic-rouen"
    assert "Rouen" in answer.citations[0].matched_terms
    answer = toy.answer("How much cargo did the port of Marseille handle?")
    assert answer.citations[0].document_id == "port-traffic"


def test_citations_explain_why_they_matched(toy: Assistant) -> None:
    answer = toy.answer("Quelle formation suivent les boulangers lyonnais ?")
    first = answer.citations[0]
    assert first.document_id == "boulangers-formation"
    assert 0 < first.similarity <= 1
    assert {"formation", "boulangers", "lyonnais"} <= set(first.matched_terms)


def test_analysis_handles_french_elision_accents_and_stemming() -> None:
    assert analyse("L’équipe d'entreprises", "fr") == analyse("equipe entreprise", "fr")
    assert analyse("companies", "en") == analyse("company", "en")
    assert "next40" in entity_terms("Les classements Next40 et FT120")
    index = LexicalIndex.build(["Les entreprises du Next40", "Companies of the index"], ["fr", "en"])
    scores, matched = index.scores(AnalysedQuestion.of("Quelles entreprises sont dans le Next40 ?", "fr"))
    assert scores[0] > 0 and scores[1] == 0 and "next40" in matched


def test_overlapping_passages_are_cited_once(tmp_path: Path, embedder, model_cache: Path) -> None:  # type: ignore[no-untyped-def]
    from .conftest import CORPUS

    settings = Settings(
        corpus=CORPUS,
        index=tmp_path / "index",
        model_cache=model_cache,
        passage_max_words=60,
        passage_min_words=20,
        passage_overlap_sentences=2,
    )
    assistant = Assistant(settings, embedder)
    assistant.build()
    assert any(
        a.doc_id == b.doc_id and a.end > b.start and a.start < b.start
        for a, b in zip(assistant.store().passages, assistant.store().passages[1:], strict=False)
    ), "the premise: this chunking overlaps"
    answer = assistant.answer("Qui coordonne la French Tech Corporate Community ?", top_k=10)
    spans = [(c.document_id, c.start, c.end) for c in answer.citations]
    for i, (d1, s1, e1) in enumerate(spans):
        for d2, s2, e2 in spans[i + 1 :]:
            assert d1 != d2 or e1 <= s2 or e2 <= s1, "two citations share text"


def test_each_language_is_scored_against_its_own_background() -> None:
    """French passages sit 0.05 higher for a French question only because they are French:
    the shift brings the English background to the French one, and only there."""
    from types import SimpleNamespace

    from assistant.retrieval.search import language_shifts
    from assistant.types import Passage

    passages = [Passage("d", i, 0, 1, "x", "fr" if i < 20 else "en") for i in range(25)]
    pool = sorted(
        [(i, 0.85 - 0.001 * i) for i in range(20)] + [(20 + i, 0.80 - 0.001 * i) for i in range(5)],
        key=lambda x: -x[1],
    )
    store = SimpleNamespace(passages=passages)
    shifts = language_shifts(store, pool, size=5)  # type: ignore[arg-type]
    assert shifts["fr"] == 0.0 and abs(shifts["en"] - 0.05) < 1e-6
    assert language_shifts(store, pool, size=10) == {"fr": 0.0}  # too few English passages: left alone


def test_keywords_cross_languages_as_cognates() -> None:
    texts = [
        "Olivier Midière is MEDEF's ambassador for digital.",
        "MEDEF's role is to support MEDEF members and MEDEF partners.",
        "The system starts every service at boot, even the network.",
        "Les événements du système sont écrits dans le journal.",
    ]
    index = LexicalIndex.build(texts, ["en", "en", "en", "fr"])
    ambassador = AnalysedQuestion.of("Qui est l'ambassadeur du MEDEF ?", "fr")
    scores, _ = index.scores(ambassador)
    assert scores[0] > scores[1] > 0  # "ambassadeur" finds "ambassador"; MEDEF alone counts less
    assert index.shared_terms(0, AnalysedQuestion.of("Qui est l'ambassadeur du MEDEF ?", "fr")) == (
        "ambassadeur",
        "MEDEF",
    )
    assert "system" in index.cognates(analyse("système", "fr"))  # the same stem in both languages
    assert index.cognates(analyse("événements", "fr")) == []  # "even" is too short to be the same word
    english, _ = index.scores(AnalysedQuestion.of("Which events does the system log?", "en"))
    assert english[3] > 0  # and the other way round: "system" finds "système"
