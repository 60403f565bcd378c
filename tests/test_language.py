from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.text.language import UNDETERMINED, detect_language, question_language


def test_questions_in_french_and_english() -> None:
    assert detect_language("Combien de pays l'équipe du MEDEF a-t-elle visités ?") == "fr"
    assert detect_language("How many companies are in the French Tech Corporate Community?") == "en"
    assert detect_language("Et qui la coordonne ?") == "fr"
    assert detect_language("Who runs it?") == "en"


def test_short_questions_in_spanish_and_german_are_not_taken_for_french_or_english() -> None:
    # they share "la", "de", "en", "in", "was" with French and English; read as French, a
    # Spanish question would be stemmed as French and answered with a French message
    assert question_language("¿Cuántas empresas forman parte de la comunidad?", "en") == "es"
    assert question_language("¿Quién dirige el laboratorio del MEDEF?", "en") == "es"
    assert question_language("Wie viele Länder hat das Team besucht?", "en") == "de"
    assert question_language("Was ist das Ziel des Digital Disruption Lab?", "en") == "de"
    # and the documents' own languages keep winning on their own short text
    assert question_language("Qui la coordonne ?", "en") == "fr"
    assert question_language("What was the lab for?", "fr") == "en"
    assert question_language("Quelle est la date de la mission ?", "en") == "fr"


def test_long_text_in_another_language_is_named() -> None:
    text = "Der Hund ist sehr groß und schläft den ganzen Tag im Garten hinter dem Haus."
    assert detect_language(text) == "de"


def test_undecidable_text_falls_back() -> None:
    assert detect_language("", fallback="en") == "en"
    assert detect_language("1234 !!", fallback="fr") == "fr"
    assert detect_language("MEDEF ?") == UNDETERMINED


def test_detection_is_deterministic() -> None:
    text = "Le MEDEF a lancé le Digital Disruption Lab"
    assert len({detect_language(text) for _ in range(20)}) == 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    result = detect_language(text, fallback="en")
    assert isinstance(result, str) and result
