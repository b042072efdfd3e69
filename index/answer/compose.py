"""Compose an extractive answer: the passages' own units that best answer the question, each cited.

Every statement is a verbatim span of the passage it cites, so nothing is said that
the documents do not say. The learned scorer (index.answer.scorer) ranks the candidate units;
its calibrated confidence in the best one decides whether the documents answer at all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from index.answer.features import Candidate, Question, candidates
from index.answer.short import PassageReads, ReadSpan, read_span
from index.store.lexical import terms
from index.schema import Answer, Citation, Hit, ShortAnswer, place_at
from index.answer.scorer import AnswerScorer, Calibration

if TYPE_CHECKING:
    from index.reader.model import Reader

FOLLOW_ON = re.compile(r"^(These|They|Those|He|She|It|This|Their|His|Her)\b")
NEAR_BEST = 0.85  # a further unit must be this likely, relative to the best, to join the answer
NEW_TERMS = 0.15  # ... and add this share of the question's weight not yet covered, or be as complete
CLOSEST_SHOWN = 3
TITLE_OVERLAP = 0.8
ANAPHORA = frozenset("this these those such it its he she his her they their there".split())
TRAILING = " \t\n,;:"
QUOTE_MARKS = ('"', "\u201c", "\u201d")


@dataclass(frozen=True)
class Unit:
    hit_rank: int
    start: int  # offsets in the chunk's text
    end: int
    score: float  # calibrated probability that this unit answers the question
    covered: frozenset[str]


@dataclass(frozen=True)
class Reading:
    """The span reader, how many of the best units' passages it reads for the short answer, the least score (the
    answer threshold) of a unit its span may move to the front, whether a short answer is given at all, and the
    reader whose margins the answer model weighs (None: `reader`)."""

    reader: Reader
    passages: int
    min_score: float
    short_answer: bool = True
    answer_reader: Reader | None = None


def compose(question: Question, hits: list[Hit], scorer: AnswerScorer, calibration: Calibration,
            min_confidence: float, max_units: int, not_found_text: str, reading: Reading | None = None,
            nearest_from: float = math.inf) -> Answer:
    """The cited answer, the reader's short answer first where it finds one, or a plain 'not found' with the
    closest passages, and from confidence `nearest_from` the sentence that comes nearest."""
    reads = PassageReads(reading.reader, question.text, hits, reading.answer_reader) if reading is not None else None
    units = score_units(question, hits, scorer, calibration, reads)
    confidence = units[0].score if units else 0.0
    if not units or confidence < min_confidence:
        declined = _not_found(question.text, hits, units, not_found_text, confidence)
        return replace(declined, nearest=_nearest_statement(declined)) if confidence >= nearest_from else declined
    span = read_span(reads, hits, units, reading.passages, reading.min_score) \
        if reads is not None and reading.short_answer else None
    if span is not None:  # the unit that holds the exact answer is said first
        units = [span.unit, *(unit for unit in units if unit is not span.unit)]
    chosen = _choose(units, question.weights, [hit.chunk.doc_id for hit in hits], max_units)
    answer = _cite(question.text, hits, chosen, confidence)
    return replace(answer, span=_short_answer(span, hits)) if span is not None else answer


def _short_answer(span: ReadSpan, hits: list[Hit]) -> ShortAnswer:
    """The span as the answer shows it: in citation 1, the passage of the first statement."""
    text = hits[span.unit.hit_rank].chunk.text
    return ShortAnswer(text=text[span.start : span.end], citation=1, start=span.start, end=span.end)


def score_units(question: Question, hits: list[Hit], scorer: AnswerScorer, calibration: Calibration,
                reads: PassageReads | None = None) -> list[Unit]:
    """Candidate units, most likely answer first; a heading that restates its document's title is left out.
    `reads`: the reader, for a scorer that weighs its margins."""
    found, features = candidates(question, hits, reads.margins() if reads is not None and scorer.needs_reader else None)
    if not found:
        return []
    logits = scorer.logits(features)
    units = [Unit(c.hit_rank, c.start, c.end, round(calibration.confidence(float(logit)), 4), c.covered)
             for c, logit in zip(found, logits) if not _restates_title(_text(hits, c), hits[c.hit_rank].doc.title)]
    return sorted(units, key=lambda u: (-u.score, u.hit_rank, u.start))


def _text(hits: list[Hit], candidate: Candidate) -> str:
    return hits[candidate.hit_rank].chunk.text[candidate.start : candidate.end]


def _restates_title(text: str, title: str) -> bool:
    """A heading that repeats the document's title matches many questions and answers none."""
    unit_terms = set(terms(text))
    return bool(unit_terms) and len(unit_terms & set(terms(title))) >= TITLE_OVERLAP * len(unit_terms)


def _choose(units: list[Unit], weights: dict[str, float], hits_doc: list[str], max_units: int) -> list[Unit]:
    """The best unit, then others close to it that add what it leaves out (or say it as fully)."""
    total = math.fsum(weights.values()) or 1.0
    best = units[0]
    chosen, covered = [best], set(best.covered)
    for unit in units[1:]:
        if len(chosen) >= max_units or unit.score < NEAR_BEST * best.score:
            break
        gain = math.fsum(weights[t] for t in unit.covered - covered) / total
        # A unit as complete as the best is worth adding only as corroboration from another document.
        corroborates = unit.covered >= best.covered and unit.hit_rank not in {c.hit_rank for c in chosen} \
            and hits_doc[unit.hit_rank] not in {hits_doc[c.hit_rank] for c in chosen}
        if gain >= NEW_TERMS or corroborates:
            chosen.append(unit)
            covered |= unit.covered
    return chosen


def _cite(question: str, hits: list[Hit], chosen: list[Unit], confidence: float) -> Answer:
    numbers: dict[int, int] = {}
    focus: dict[int, tuple[int, int]] = {}
    statements = []
    for unit in chosen:
        hit = hits[unit.hit_rank]
        n = numbers.setdefault(unit.hit_rank, len(numbers) + 1)
        start, end = _quoted(hit, unit)
        focus.setdefault(unit.hit_rank, (start, end))
        statements.append(f"{_statement(hit.chunk.text[start:end])} [{n}]")
    best_score = {}
    for unit in chosen:
        best_score.setdefault(unit.hit_rank, unit.score)
    citations = tuple(citation(n, hits[rank], best_score[rank], focus[rank]) for rank, n in numbers.items())
    return Answer(question=question, answer=" ".join(statements), found=True, citations=citations,
                  confidence=confidence)


def _without_stray_quotes(statement: str) -> str:
    """Drop a quote mark at either end that the statement does not close: the quotation ran on."""
    quotes = sum(statement.count(q) for q in QUOTE_MARKS)
    if quotes % 2 and statement[:1] in QUOTE_MARKS:
        return statement[1:]
    if quotes % 2 and statement[-1:] in QUOTE_MARKS:
        return statement[:-1]
    return statement


def _with_antecedent(hit: Hit, start: int) -> int:
    """A clause like "whereas X is in prison in this regard" needs the clause before it to make sense."""
    spans = hit.chunk.sentences
    text = hit.chunk.text
    index = next(i for i, (s, _) in enumerate(spans) if s == start)
    words = set(text[start : spans[index][1]].lower().split())
    if index > 0 and text[start : start + 1].islower() and words & ANAPHORA:
        return spans[index - 1][0]
    return start


def _with_follow_on(hit: Hit, end: int) -> int:
    """"Several defenders are detained. These include A and B." The answer is in the second sentence."""
    spans = hit.chunk.sentences
    text = hit.chunk.text
    index = next(i for i, (_, e) in enumerate(spans) if e == end)
    if index + 1 < len(spans):
        next_start, next_end = spans[index + 1]
        same_paragraph = "\n" not in text[end:next_start]
        if same_paragraph and FOLLOW_ON.match(text[next_start:next_end]):
            return next_end
    return end


def _not_found(question: str, hits: list[Hit], units: list[Unit], not_found_text: str, confidence: float) -> Answer:
    """Say so plainly, and offer the passages with the strongest evidence, best first, each focused on its most
    likely unit."""
    best: dict[int, Unit] = {}
    for unit in units:
        best.setdefault(unit.hit_rank, unit)
    closest = sorted(range(len(hits)), key=lambda rank: (-_score(best.get(rank)), rank))[:CLOSEST_SHOWN]
    citations = tuple(citation(n, hits[rank], _score(best.get(rank)),
                               _quoted(hits[rank], best[rank]) if rank in best else None)
                      for n, rank in enumerate(closest, 1))
    return Answer(question=question, answer=not_found_text, found=False, citations=citations,
                  confidence=confidence)


def _nearest_statement(declined: Answer) -> str | None:
    """The first closest passage's focus as an answer would quote it, with its citation: "… 2017 [1]"."""
    first = declined.citations[0] if declined.citations else None
    if first is None or first.focus is None:
        return None
    return f"{_statement(first.quote[first.focus[0] : first.focus[1]])} [{first.n}]"


def _statement(text: str) -> str:
    """A quoted span as one line: whitespace collapsed (a heading's line break too), no dangling punctuation."""
    return _without_stray_quotes(re.sub(r"\s+", " ", text).rstrip(TRAILING))


def _score(unit: Unit | None) -> float:
    return unit.score if unit is not None else 0.0


def _quoted(hit: Hit, unit: Unit) -> tuple[int, int]:
    """Where `unit` stands in its passage as quoted: with the clause it leans on, and a sentence that goes on
    from it."""
    return _with_antecedent(hit, unit.start), _with_follow_on(hit, unit.end)


def citation(n: int, hit: Hit, score: float, focus: tuple[int, int] | None = None) -> Citation:
    """Passage `hit`, numbered `n` in the answer; `score`: how strongly it answers; `focus`: what it is cited for."""
    return Citation(
        n=n,
        doc_id=hit.doc.doc_id,
        title=hit.doc.title,
        date=hit.doc.date,
        source=hit.doc.source,
        quote=hit.chunk.text,
        score=round(float(score), 4),
        focus=focus,
        place=place_at(hit.doc.places, hit.chunk.start + (focus[0] if focus else 0)),
    )
