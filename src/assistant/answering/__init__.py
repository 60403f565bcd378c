"""Ranked passages -> an answer: the answer sentence, citations, abstention."""
