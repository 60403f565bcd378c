"""Hits -> an Answer: the answer sentence, the citations, and whether to abstain."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from assistant.models.reader import Reader
from assistant.stores.base import StoredIndex
from assistant.text.analysis import analyse, entity_terms, fold, shared_stems
from assistant.text.question import AnalysedQuestion
from assistant.types import AnswerSpan, Citation, Hit, Passage

SENTENCE_CANDIDATES = 3  # the answer sentence is chosen within this many best passages
READER_CANDIDATES = 4  # the reader reads at most this many of their best sentences
# Rank weight of a sentence's passage score among the candidates (and, through
# RETRIEVAL_WEIGHT, in the reader's choice): docs/quality.md#passage_weight
PASSAGE_WEIGHT = 2.5
# A verdict this confident among the best 2 spares reading the others (near-duplicate first
# candidates are why it is 2, not 1): docs/quality.md#first_read
FIRST_READ = 2
CONFIDENT_VERDICT = 2.0
# Nor are the others read when the best verdict so far falls this far (logit) short of the one
# an answer needs, after the first candidate alone, then after the first FIRST_READ: they would
# rarely reach it, and the question is declined either way. Farther after one sentence than
# after two, since a second has one more chance (scripts/fit_reading.py,
# docs/quality.md#short_of_answer)
SHORT_OF_ANSWER = {1: 6.0, FIRST_READ: 4.0}
# Nothing is read when the verdict an answer needs, known from retrieval alone, is above
# OUT_OF_REACH: answerable questions almost never need one so high (the retrieval found nothing
# close), and the question is declined unread. Its confidence is then what UNREAD_VERDICT, the
# reader's typical best verdict for such questions, would give (scripts/fit_reading.py,
# docs/quality.md#out_of_reach)
OUT_OF_REACH = 3.0
UNREAD_VERDICT = -4.16
# The reader's logit decides, the retrieval score breaks near-ties: docs/quality.md#retrieval_weight
RETRIEVAL_WEIGHT = 4.0
# The answer sentence's passage is cited first when the reader prefers that sentence by this
# much (logit) to the first passage's: docs/quality.md#first_margin
FIRST_MARGIN = 1.0
FRAGMENT_WORDS = 6  # a unit of this many words or fewer is a fragment (a label, a bare command)
LABEL_WORDS = 15
KEYWORD_WEIGHT = 0.2  # the shared keywords' weight in a candidate's rank: docs/quality.md#keyword_weight
_ENDS_SENTENCE = re.compile(r"[.!?…:;)»”\"']\s*$")
# A sentence that announces what follows ("… by the following.", "… can be:", "Voici …
# suivantes :"): its answer is the command, list item or row under it.
_INTRODUCES = re.compile(
    r"(?::|\b(?:following|as follows|below|suivante?s?|comme suit|ci-dessous))\s*[.:]?\s*$", re.IGNORECASE
)
FOLLOWING_UNITS = 3  # lines of code, list items or rows quoted after an announcing sentence
FOLLOWING_WORDS = 60
ANNOUNCING_WORDS = 30  # at most this many words between an answer sentence and the command its paragraph announces
_LISTED = ("code", "item", "row", "header")  # the units an announcing sentence can introduce

MESSAGES = {
    "abstain": {
        "fr": "Les documents ne permettent pas de répondre à cette question. Voici les passages les plus proches.",
        "en": "The documents do not answer this question. Here are the closest passages.",
        "es": "Los documentos no responden a esta pregunta. Estos son los pasajes más cercanos.",
        "de": "Die Dokumente beantworten diese Frage nicht. Hier sind die nächstliegenden Passagen.",
    },
    "answer": {
        "fr": "Réponse trouvée dans « {title} » ; {n} passage(s) cité(s).",
        "en": "Answer found in “{title}”; {n} passage(s) cited.",
        "es": "Respuesta encontrada en «{title}»; {n} pasaje(s) citado(s).",
        "de": "Antwort gefunden in „{title}“; {n} Passage(n) zitiert.",
    },
    "empty": {
        "fr": "L'index ne contient aucun document.",
        "en": "The index holds no documents.",
        "es": "El índice no contiene ningún documento.",
        "de": "Der Index enthält keine Dokumente.",
    },
}


def message(kind: str, language: str, **values: object) -> str:
    texts = MESSAGES[kind]
    return texts.get(language, texts["en"]).format(**values)


def distinct(hits: list[Hit]) -> list[Hit]:
    """Hits without passages that overlap a better one of the same document (with overlapping
    chunking, two passages can share sentences; the text is cited once)."""
    kept: list[Hit] = []
    for hit in hits:
        p = hit.passage
        if not any(k.passage.doc_id == p.doc_id and k.passage.start < p.end and p.start < k.passage.end for k in kept):
            kept.append(hit)
    return kept


def citations_for(store: StoredIndex, hits: list[Hit]) -> list[Citation]:
    citations = []
    for rank, hit in enumerate(hits, start=1):
        p = hit.passage
        doc = store.documents[p.doc_id]
        citations.append(
            Citation(
                rank=rank,
                document_id=doc.id,
                title=doc.title,
                source=doc.source,
                language=p.language,
                text=p.text,
                start=p.start,
                end=p.end,
                score=round(hit.score, 4),
                similarity=round(hit.similarity, 4),
                matched_terms=hit.terms,
                page=doc.page_at(p.start),
                section=p.section,
            )
        )
    return citations


_ASKS_FOR_NUMBER = re.compile(
    r"\b(?:combien|quand|en quelle année|quelle année|quelle date|à quelle date|quel âge|how many|how much|"
    r"when|what year|which year|what date|how old)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage that may answer the question."""

    score: float  # the retrieval-side score of `candidates`
    citation: int  # index of its hit
    start: int
    end: int
    text: str
    title: str
    reading: str = ""  # a table row with its column names (`with_header`), read beside `text`


def with_header(row: str, header: str) -> str:
    """A table row with its column names: each cell after its column's name ("command: git
    clone URL | function: clone the remote repository …"), or the header line above the row when
    the cells do not line up."""
    cells, names = _cells(row), _cells(header)
    if len(cells) == len(names):
        return " | ".join(f"{n}: {c}" for n, c in zip(names, cells, strict=True))
    return f"{header}\n{row}"


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def candidates(
    store: StoredIndex, hits: list[Hit], query_vector: np.ndarray, question: AnalysedQuestion
) -> list[Candidate]:
    """The sentences of the best passages, best first, by how well they seem to answer.

    A sentence scores its similarity to the question (with its language's shift, see
    `search.language_shifts`), plus its passage's score times PASSAGE_WEIGHT (a good sentence in a good
    passage wins), plus the share of the question's terms it contains (analysed in its
    language; across languages names, figures and the shared stems of long words), plus a
    little when the question asks for a number or a date and the sentence has digits.
    Headings never answer; fragments of a few words only when nothing else can.
    """
    language = question.language
    question_terms = set(question.terms) | question.stems
    names = set(question.names)
    wants_number = bool(_ASKS_FOR_NUMBER.search(question.text))
    denominator = max(1, len(question_terms) + len(names))
    found: list[Candidate] = []
    for index, hit in enumerate(hits[:SENTENCE_CANDIDATES]):
        sims = store.sentence_vectors_of(hit.row) @ query_vector
        document = store.documents[hit.passage.doc_id]
        for sentence, sim in zip(hit.passage.sentences, sims, strict=True):
            body = document.text[sentence.start : sentence.end]
            if sentence.kind in ("heading", "header"):
                continue  # a heading names a subject, a header row columns; they never answer
            header = document.text[sentence.header[0] : sentence.header[1]] if sentence.header else ""
            score = float(sim) + hit.shift + PASSAGE_WEIGHT * hit.score
            words = len(body.split())
            if words <= FRAGMENT_WORDS:
                score -= 1.0  # a fragment answers only when nothing longer is there
            elif sentence.kind == "sentence" and words <= LABEL_WORDS and not _ENDS_SENTENCE.search(body):
                score -= 0.08  # a caption or a label ("Table 3.1. List of boot loaders") rarely answers
            named = f"{header}\n{body}" if header else body  # a row means its column names too
            terms = (
                set(analyse(named, hit.passage.language)) if hit.passage.language == language else shared_stems(named)
            )
            shared = len(question_terms & terms) + len(
                names & set(entity_terms(named)) | names & set(fold(named).split())
            )
            score += KEYWORD_WEIGHT * shared / denominator
            if wants_number and _DIGIT.search(body):
                score += 0.03
            reading = with_header(body, header) if header else ""
            found.append(Candidate(score, index, sentence.start, sentence.end, body, document.title, reading))
    found.sort(key=lambda c: -c.score)
    return found


def choose(logits: np.ndarray, scores: np.ndarray) -> int:
    """Which of the sentences read answers: the reader's logit, retrieval breaking near-ties."""
    return int(np.argmax(logits + RETRIEVAL_WEIGHT * scores))


def read(
    reader: Reader,
    question: str,
    ranked: list[Candidate],
    needed: float | None = None,
    short_of: Mapping[int, float] = SHORT_OF_ANSWER,
    out_of_reach: float = OUT_OF_REACH,
) -> tuple[Candidate, float, float | None]:
    """The candidate that answers best among the first `READER_CANDIDATES`, by the reader's
    logit (with a little of the retrieval score), the reader's logit for it (what the abstention
    decision weighs), and its best logit for a sentence of the first passage (None when none
    was read). They are read in stages, the first candidate alone, then up to `FIRST_READ`, then
    the rest: reading stops after a stage when its best verdict falls `SHORT_OF_ANSWER[stage]`
    short of `needed` (the verdict from which the answer is given, when known), or after the
    first `FIRST_READ` when the reader is confident of one. None is read when `needed` is above
    `out_of_reach`: the first candidate is returned with `UNREAD_VERDICT`, which declines it.
    `short_of` and `out_of_reach` replace the shipped values (scripts/fit_reading.py replays
    this with others)."""
    if needed is not None and needed > out_of_reach:
        return ranked[0], min(UNREAD_VERDICT, out_of_reach), None
    top = ranked[:READER_CANDIDATES]
    logits = np.zeros(0, dtype=np.float32)
    for stage in (1, FIRST_READ, READER_CANDIDATES):
        if stage > len(logits) and len(top) > len(logits):
            logits = np.concatenate([logits, _verdicts(reader, question, top[len(logits) : stage])])
        best_read = float(logits.max())
        short = needed is not None and needed - best_read > short_of.get(stage, math.inf)
        if short or (stage == FIRST_READ and best_read >= CONFIDENT_VERDICT):
            break
    top = top[: len(logits)]
    best = choose(logits, np.array([c.score for c in top]))
    first = [float(v) for c, v in zip(top, logits, strict=True) if c.citation == 0]
    return top[best], float(logits[best]), max(first) if first else None


def _verdicts(reader: Reader, question: str, read: list[Candidate]) -> np.ndarray:
    """The reader's logit for each candidate; a table row with column names is read both as it
    stands and with them (`with_header`), and answers as well as its better reading: the reader,
    trained on prose, rates some rows higher bare ("N/A | aptitude search '~i!~M' | apt-mark
    showmanual | list manually installed packages": 3.88, 0.34 with its names), others only
    with their names ("git clone URL | clone the remote repository …": -0.15, 2.23)."""
    pairs = [(c.title, c.text) for c in read] + [(c.title, c.reading) for c in read if c.reading]
    logits = reader.score(question, pairs)
    best = logits[: len(read)].copy()
    extra = iter(logits[len(read) :])
    for i, c in enumerate(read):
        if c.reading:
            best[i] = max(best[i], next(extra))
    return best


def answer_first(
    hits: list[Hit], chosen: Candidate, verdict: float | None, first_verdict: float | None
) -> tuple[list[Hit], Candidate]:
    """The hits with the answer sentence's passage first when the reader clearly prefers its
    sentence to the first passage's (`FIRST_MARGIN`), and the candidate renumbered; else as given."""
    if chosen.citation == 0 or verdict is None:
        return hits, chosen
    if first_verdict is not None and verdict - first_verdict < FIRST_MARGIN:
        return hits, chosen
    order = [chosen.citation, *(i for i in range(len(hits)) if i != chosen.citation)]
    return [hits[i] for i in order], dataclasses.replace(chosen, citation=0)


def span_of(candidate: Candidate, store: StoredIndex, hits: list[Hit]) -> AnswerSpan:
    """The answer's quoted span: the sentence, and when it announces a command, a list or a
    table ("Generate the keys by the following." / "$ ssh-keygen -t rsa"), the lines of code,
    list items or rows right under it in the same passage (at most FOLLOWING_UNITS). When its
    paragraph goes on for a sentence or two that end by announcing them ("In order for the
    system to access a particular locale, the locale data must be compiled from the locale
    database. The locales package does not come with pre-compiled locale data. You need to
    configure it as:" / "# dpkg-reconfigure locales"), those sentences and what they announce
    are quoted too: the command is what the paragraph leads to. A sentence that is a
    paragraph alone may so run on into the next paragraph."""
    passage = hits[candidate.citation].passage
    text = store.documents[passage.doc_id].text
    end = candidate.end
    if _INTRODUCES.search(candidate.text):
        return _span(candidate, text, _listed_after(passage, text, end))
    rest = [u for u in passage.sentences if u.start >= end][: FOLLOWING_UNITS - 1]
    words = 0
    # a sentence that is a paragraph of its own may run on into the next paragraph ("… the
    # locale data must be compiled from the locale database." / "The locales package does not
    # come with pre-compiled locale data. You need to configure it as:")
    alone = not text[text.rfind("\n", 0, candidate.start) + 1 : candidate.start].strip()  # it starts its line
    for i, unit in enumerate(rest):
        crosses = "\n" in text[end : unit.start]
        if unit.kind != "sentence" or (crosses and not (i == 0 and alone)):
            break  # the paragraph ends
        said = text[unit.start : unit.end]
        words += len(said.split())
        if words > ANNOUNCING_WORDS:
            break
        end = unit.end
        if _INTRODUCES.search(said):
            listed = _listed_after(passage, text, end)
            return _span(candidate, text, listed if listed > end else candidate.end)
    return _span(candidate, text, candidate.end)


def _span(candidate: Candidate, text: str, end: int) -> AnswerSpan:
    return AnswerSpan(text=text[candidate.start : end], citation=candidate.citation, start=candidate.start, end=end)


def _listed_after(passage: Passage, text: str, end: int) -> int:
    """Where the lines of code, list items or rows right after `end` stop (`end` when none)."""
    words = 0
    for unit in [u for u in passage.sentences if u.start >= end][:FOLLOWING_UNITS]:
        words += len(text[unit.start : unit.end].split())
        if unit.kind not in _LISTED or "\n" not in text[end : unit.start] or words > FOLLOWING_WORDS:
            break
        end = unit.end
    return end
