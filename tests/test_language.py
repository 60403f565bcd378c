from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.language import UNDETERMINED, detect_language


def test_questions_in_french_and_english() -> None:
    assert detect_language("Combien de pays l'équipe du MEDEF a-t-elle visités ?") == "fr"
    assert detect_language("How many companies are in the French Tech Corporate Community?") == "en"
    assert detect_language("Et qui la coordonne ?") == "fr"
    assert detect_language("Who runs it?") == "en"


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
