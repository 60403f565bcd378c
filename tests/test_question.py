"""A question is analysed once, and the same analysis serves keyword search, candidates and
abstention: its terms in its language, its names (which match in any language), its words."""

from __future__ import annotations

import pytest

from assistant.text.analysis import NAME_MARK, STEM_MARK
from assistant.text.question import AnalysedQuestion

FRENCH = "Combien d'entreprises compte la French Tech Corporate Community en 2019 ?"
ENGLISH = "How many companies were in the French Tech Corporate Community in 2019?"


def test_names_and_figures_are_the_same_keys_whatever_the_language() -> None:
    french, english = AnalysedQuestion.of(FRENCH, "fr"), AnalysedQuestion.of(ENGLISH, "en")
    assert french.name_keys == english.name_keys
    assert french.name_keys == [NAME_MARK + w for w in ("french", "tech", "corporate", "community", "2019")]


def test_terms_are_stemmed_in_the_question_language() -> None:
    french, english = AnalysedQuestion.of(FRENCH, "fr"), AnalysedQuestion.of(ENGLISH, "en")
    assert "entrepris" in french.terms and "combien" not in french.terms  # a stop word is no term
    assert "compani" in english.terms and "how" not in english.terms
    assert french.language == "fr" and french.text == FRENCH


def test_long_words_give_the_stems_french_and_english_share() -> None:
    french = AnalysedQuestion.of("Quel protocole de configuration du système ?", "fr")
    english = AnalysedQuestion.of("Which protocol configures the system", "en")
    shared = french.stems & english.stems
    assert {STEM_MARK + s for s in ("proto", "confi", "syste")} <= shared


def test_words_keep_their_order_spelling_and_analysis() -> None:
    question = AnalysedQuestion.of(FRENCH, "fr")
    written = [w for w, _, _ in question.words]
    assert written[:3] == ["Combien", "entreprises", "compte"]
    assert dict((w, analysed) for w, _, analysed in question.words)["entreprises"] == ("entrepris",)


@pytest.mark.xfail(
    strict=True,
    reason="known defect, left for a measured change: a word glued to '?' gives no shared stem. "
    "Fixing it alone (words by _TOKEN) lost the Debian Reference's apt-mark showmanual row (holds 16 -> 15/20): "
    "the question's stems count in every candidate's keyword denominator, same language included, "
    "and with the denominator per language LilyPond lost an answer (docs/quality.md, experiments not kept)",
)
def test_a_question_mark_does_not_hide_the_last_word() -> None:
    question = AnalysedQuestion.of("How many companies are in the French Tech Corporate Community?", "en")
    assert STEM_MARK + "commu" in question.stems
