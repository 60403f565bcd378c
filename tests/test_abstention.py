"""Abstention on both sides of the threshold, on the bundled two-document corpus, in both languages."""

from __future__ import annotations

import pytest

from assistant.answering.abstention import (
    CROSS_LANGUAGE,
    READER_CROSS_LANGUAGE,
    READER_MODELS,
    SAME_LANGUAGE,
    ReaderModel,
    Signals,
)
from assistant.serving.assistant import Assistant

OFF_TOPIC = [
    "What is the capital of Australia?",
    "Quelle est la recette de la tarte tatin ?",
    "Who wrote Hamlet?",
    "Qui a gagné la coupe du monde 2018 ?",
    "What is the boiling point of water?",
    "Comment réparer un vélo ?",
    "What is the price of Bitcoin?",
    "Quel temps fera-t-il demain à Paris ?",
]
ON_TOPIC = [
    "Combien de pays l'équipe du MEDEF a-t-elle visités ?",
    "How many companies are in the French Tech Corporate Community?",
    "Qui coordonne la French Tech Corporate Community ?",
    "What are the goals of the Digital Disruption Lab?",
    "Quand la mission numérique des grands groupes a-t-elle été lancée ?",
    "How many interviews did MEDEF conduct?",
    "Qui est l'ambassadeur du MEDEF pour le numérique ?",
    "Which countries have leading digital environments?",
    "Qu'est-ce que Coalition Next ?",
    "What is Next40?",
]


@pytest.mark.slow
@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain(assistant: Assistant, question: str) -> None:
    answer = assistant.answer(question)
    assert answer.abstained and answer.answer is None
    assert answer.confidence < assistant.settings.abstain_below
    assert answer.citations, "the closest passages are still offered"
    expected = "documents ne permettent pas" if question in OFF_TOPIC[1::2] else "documents do not answer"
    assert expected in answer.message


@pytest.mark.slow
@pytest.mark.parametrize("question", ON_TOPIC)
def test_questions_about_the_documents_are_answered(assistant: Assistant, question: str) -> None:
    answer = assistant.answer(question)
    assert not answer.abstained and answer.answer is not None
    assert answer.confidence >= assistant.settings.abstain_below


def test_confidence_grows_with_each_signal() -> None:
    base = Signals(similarity=0.82, sentence=0.84, coverage=0.3, gap=0.01)
    for model in (SAME_LANGUAGE, CROSS_LANGUAGE):
        c = model.confidence(base)
        assert 0.0 < c < 1.0
        assert model.confidence(Signals(0.86, 0.84, 0.3, 0.01)) > c
        assert model.confidence(Signals(0.82, 0.88, 0.3, 0.01)) > c
        assert model.confidence(Signals(0.82, 0.84, 0.9, 0.01)) > c
        assert model.confidence(Signals(0.82, 0.84, 0.3, 0.05)) > c


def test_a_strong_no_from_the_reader_declines_whatever_retrieval_says() -> None:
    # "Quel est le prix d'un abonnement Debian ?" over the Debian Reference: every passage is
    # about Debian (retrieval logit 3.8), the reader reads no answer in any (-2.9)
    french = READER_MODELS["fr"]
    assert french.floor is not None
    assert french.confidence(3.8, french.floor - 1.0) < 0.5 <= french.confidence(3.8, french.floor + 1.0)
    no_floor = ReaderModel(french.retrieval, french.reader, french.bias)
    assert no_floor.confidence(3.8, french.floor - 1.0) >= 0.5  # what the floor changes
    for retrieval in (-4.0, 0.0, 2.0):  # well above the floor the combination decides alone
        verdict = french.floor + 3.0
        assert french.confidence(retrieval, verdict) == pytest.approx(no_floor.confidence(retrieval, verdict))


def test_the_verdict_an_answer_needs_is_where_the_confidence_crosses_the_threshold() -> None:
    # what lets the answer stop reading candidates that could not change a decline
    for model in (*READER_MODELS.values(), READER_CROSS_LANGUAGE):
        for retrieval in (-6.0, -2.0, 0.0, 3.0):
            for threshold in (0.3, 0.5, 0.8):
                needed = model.verdict_needed(retrieval, threshold)
                assert (
                    model.confidence(retrieval, needed + 0.01) >= threshold > model.confidence(retrieval, needed - 0.01)
                )
    assert READER_CROSS_LANGUAGE.verdict_needed(0.0, 0.0) == -float("inf")  # every answer is given
    assert READER_CROSS_LANGUAGE.verdict_needed(0.0, 1.0) == float("inf")  # none is


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("¿Quién ganó la copa del mundo de fútbol en 2018?", "Los documentos no responden"),
        ("Wer hat die Fußball-Weltmeisterschaft 2018 gewonnen?", "Die Dokumente beantworten diese Frage nicht"),
    ],
)
def test_spanish_and_german_questions_are_declined_in_their_language(
    assistant: Assistant, question: str, expected: str
) -> None:
    answer = assistant.answer(question)
    assert answer.abstained and expected in answer.message
