"""Questions against the bundled corpus with the real model: cross-language retrieval and citations."""

from __future__ import annotations

import pytest

from assistant.answering.answer import message
from assistant.errors import BadQuestion
from assistant.serving.assistant import Assistant, Turn

pytestmark = pytest.mark.slow


def test_french_question_finds_the_english_passage(assistant: Assistant) -> None:
    answer = assistant.answer("Combien de pays l'équipe du MEDEF a-t-elle visités ?")
    first = answer.citations[0]
    assert first.document_id == "en-medef-digital-disruption-lab" and first.language == "en"
    assert "21 countries" in first.text
    assert answer.language == "fr" and not answer.abstained
    assert answer.answer is not None and "21 countries" in answer.answer.text


def test_english_question_finds_the_french_passage(assistant: Assistant) -> None:
    answer = assistant.answer("How many companies are in the French Tech Corporate Community?")
    first = answer.citations[0]
    assert first.document_id == "fr-french-tech-corporate-community" and first.language == "fr"
    assert "90 entreprises" in first.text
    assert answer.language == "en" and not answer.abstained


def test_citations_quote_the_documents_exactly(assistant: Assistant) -> None:
    answer = assistant.answer("Who leads the Digital Disruption Lab missions?", top_k=5)
    assert [c.rank for c in answer.citations] == [1, 2, 3, 4, 5]
    scores = [c.score for c in answer.citations]
    assert scores == sorted(scores, reverse=True)
    for c in answer.citations:
        found = assistant.document(c.document_id)
        assert found is not None
        doc = found[0]
        assert doc.text[c.start : c.end] == c.text
        assert c.title == doc.title and c.source == doc.source
    span = answer.answer
    assert span is not None
    cited = answer.citations[span.citation]
    assert cited.start <= span.start < span.end <= cited.end
    assert assistant.document(cited.document_id)[0].text[span.start : span.end] == span.text  # type: ignore[index]


def test_off_topic_questions_abstain(assistant: Assistant) -> None:
    for q in ("What is the capital of Australia?", "Quelle est la recette de la tarte tatin ?"):
        answer = assistant.answer(q)
        assert answer.abstained and answer.answer is None, q
    # the message is the question's language's, not the other one's
    assert assistant.answer("Quelle est la recette de la tarte tatin ?").message == message("abstain", "fr")
    assert assistant.answer("What is the capital of Australia?").message == message("abstain", "en")
    assert message("abstain", "fr") != message("abstain", "en")


def test_follow_up_uses_the_conversation(assistant: Assistant) -> None:
    history = [Turn("Qu'est-ce que la French Tech Corporate Community ?", None)]
    answer = assistant.answer("Combien d'entreprises en font partie ?", history=history)
    assert answer.citations[0].document_id == "fr-french-tech-corporate-community"
    assert "90 entreprises" in answer.citations[0].text


@pytest.mark.parametrize("question", ["", "   \n\t", "\x00\x01"])
def test_empty_questions_are_refused(assistant: Assistant, question: str) -> None:
    with pytest.raises(BadQuestion, match="empty"):
        assistant.answer(question)


def test_overlong_questions_are_refused(assistant: Assistant) -> None:
    with pytest.raises(BadQuestion, match="limit is 2000"):
        assistant.answer("x" * 2001)
