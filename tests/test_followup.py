"""Follow-up questions: detection, and conversations in both languages against the bundled corpus."""

from __future__ import annotations

import pytest

from assistant.retrieval.followup import contextual_query, is_follow_up
from assistant.serving.assistant import Assistant, Turn


@pytest.mark.parametrize(
    ("question", "language", "expected"),
    [
        ("Et qui la coordonne ?", "fr", True),
        ("Combien d'entreprises en font partie ?", "fr", True),
        ("Quand a-t-elle été lancée ?", "fr", True),
        ("Quel est son objectif ?", "fr", True),
        ("Who coordinates it?", "en", True),
        ("When was it launched?", "en", True),
        ("And the budget?", "en", True),
        ("Quelle est la recette de la tarte tatin ?", "fr", False),
        ("Qui coordonne la French Tech Corporate Community ?", "fr", False),
        ("What is the capital of Australia?", "en", False),
        ("How many countries did the MEDEF team visit?", "en", False),
    ],
)
def test_follow_up_detection(question: str, language: str, expected: bool) -> None:
    assert is_follow_up(question, language) is expected


def test_contextual_query_prepends_only_for_follow_ups() -> None:
    assert contextual_query("Who leads it?", "en", ["What is MEDEF?"]) == "What is MEDEF? Who leads it?"
    assert contextual_query("What is the capital of Australia?", "en", ["What is MEDEF?"]) == (
        "What is the capital of Australia?"
    )
    assert contextual_query("Who leads it?", "en", []) == "Who leads it?"


# (first question, follow-up, text of the passage that answers, text of the answer sentence or None
# where the sentence chooser still picks a neighbour; see the README's evaluation figures)
CONVERSATIONS = [
    ("Qu'est-ce que la French Tech Corporate Community ?", "Et qui la coordonne ?", "coordinateurs", "Maupeou"),
    ("Parle-moi de la mission numérique des grands groupes.", "Quand a-t-elle été lancée ?", "août 2020", "août 2020"),
    ("What is the Digital Disruption Lab?", "Who conducted its exploratory missions?", "Midière", "Olivier Midière"),
    (
        "Tell me about the French Tech Corporate Community.",
        "How many companies does it gather?",
        "90 entreprises",
        None,
    ),
    (
        "Qu'a fait l'équipe du MEDEF entre 2016 et 2017 ?",
        "Combien d'entretiens a-t-elle menés ?",
        "700",
        "700 interviews",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("first", "follow_up", "passage", "sentence"), CONVERSATIONS)
def test_conversations(assistant: Assistant, first: str, follow_up: str, passage: str, sentence: str | None) -> None:
    alone = assistant.answer(follow_up)
    before = assistant.answer(first)  # as the page does: the history carries the answer given
    answer = assistant.answer(follow_up, history=[Turn(first, before.answer.text if before.answer else None)])
    assert not answer.abstained and answer.answer is not None
    assert passage in answer.citations[0].text
    if sentence is not None:
        assert sentence in answer.answer.text, answer.answer
    # with the conversation the assistant is surer than with the follow-up alone (which, for
    # three of these five, cites another passage first or abstains)
    assert answer.confidence > alone.confidence


@pytest.mark.slow
def test_a_new_topic_is_not_bent_by_the_history(assistant: Assistant) -> None:
    history = [Turn("Combien de pays l'équipe du MEDEF a-t-elle visités ?", "From May 2016 ...")]
    answer = assistant.answer("How many companies are in the French Tech Corporate Community?", history=history)
    assert answer.citations[0].document_id == "fr-french-tech-corporate-community"
    assert assistant.answer("What is the capital of Australia?", history=history).abstained
