"""Compose an extractive answer: the passages' own sentences that best answer the question, each cited.

Every statement is a verbatim span of the passage it cites, so nothing is said that
the documents do not say. A unit (sentence or clause) is scored by how much of the
question's weighted vocabulary it covers, blended with its passage's dense and
lexical evidence; the best one decides whether the documents answer at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.answer_type import expected_kind, holds_new_answer
from index.lexical import terms
from index.schema import Answer, Citation, Hit

MIN_ANSWER_WORDS = 4
DENSE_WEIGHT = 0.6  # cosine of question and text (0.1 off-topic .. 0.7 on the point) ...
PASSAGE_SHARE = 0.5  # ... taken this much from the whole passage, the rest from the sentence itself
COVERAGE_WEIGHT = 0.4  # share of the question's IDF weight the unit itself contains
ANSWER_TYPE_BONUS = 0.05  # the unit holds a date/number/name of the kind asked for ...
ANSWER_TYPE_PENALTY = 0.10  # ... or, asked for one, holds none
FOLLOW_ON = re.compile(r"^(These|They|Those|He|She|It|This|Their|His|Her)\b")
NEAR_BEST = 0.85  # a further unit must score this share of the best to join the answer
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
    score: float
    covered: frozenset[str]


def compose(question: str, weights: dict[str, float], hits: list[Hit], min_confidence: float, max_units: int,
            not_found_text: str) -> Answer:
    """The cited answer, or a plain 'not found' with the closest passages.

    `weights` maps the question's terms to their weight as evidence (LexicalIndex.query_weights).
    """
    units = _score_units(question, hits, weights)
    if not units or units[0].score < min_confidence:
        return _not_found(question, hits, units, not_found_text)
    chosen = _choose(units, weights, [hit.chunk.doc_id for hit in hits], max_units)
    return _cite(question, hits, chosen)


def _score_units(question: str, hits: list[Hit], weights: dict[str, float]) -> list[Unit]:
    total = sum(weights.values()) or 1.0
    kind = expected_kind(question)
    units, seen = [], set()
    for rank, hit in enumerate(hits):
        for (start, end), unit_dense in zip(hit.chunk.sentences, hit.unit_dense):
            text = hit.chunk.text[start:end]
            where = (hit.chunk.doc_id, hit.chunk.start + start)
            if where in seen or len(text.split()) < MIN_ANSWER_WORDS or _restates_title(text, hit.doc.title):
                continue
            seen.add(where)
            covered = frozenset(weights).intersection(terms(text))
            coverage = sum(weights[t] for t in covered) / total
            score = DENSE_WEIGHT * (PASSAGE_SHARE * hit.dense + (1 - PASSAGE_SHARE) * unit_dense) + COVERAGE_WEIGHT * coverage
            if kind is not None:
                score += ANSWER_TYPE_BONUS if holds_new_answer(kind, text, question) else -ANSWER_TYPE_PENALTY
            units.append(Unit(rank, start, end, round(score, 4), covered))
    return sorted(units, key=lambda u: (-u.score, u.hit_rank, u.start))


def _restates_title(text: str, title: str) -> bool:
    """A heading that repeats the document's title matches many questions and answers none."""
    unit_terms = set(terms(text))
    return bool(unit_terms) and len(unit_terms & set(terms(title))) >= TITLE_OVERLAP * len(unit_terms)


def _choose(units: list[Unit], weights: dict[str, float], hits_doc: list[str], max_units: int) -> list[Unit]:
    """The best unit, then others close to it that add what it leaves out (or say it as fully)."""
    total = sum(weights.values()) or 1.0
    best = units[0]
    chosen, covered = [best], set(best.covered)
    for unit in units[1:]:
        if len(chosen) >= max_units or unit.score < NEAR_BEST * best.score:
            break
        gain = sum(weights[t] for t in unit.covered - covered) / total
        # A unit as complete as the best is worth adding only as corroboration from another document.
        corroborates = unit.covered >= best.covered and unit.hit_rank not in {c.hit_rank for c in chosen} \
            and hits_doc[unit.hit_rank] not in {hits_doc[c.hit_rank] for c in chosen}
        if gain >= NEW_TERMS or corroborates:
            chosen.append(unit)
            covered |= unit.covered
    return chosen


def _cite(question: str, hits: list[Hit], chosen: list[Unit]) -> Answer:
    numbers: dict[int, int] = {}
    statements = []
    for unit in chosen:
        hit = hits[unit.hit_rank]
        n = numbers.setdefault(unit.hit_rank, len(numbers) + 1)
        start = _with_antecedent(hit, unit.start)
        statement = _without_stray_quotes(hit.chunk.text[start : _with_follow_on(hit, unit.end)].rstrip(TRAILING))
        statements.append(f"{statement} [{n}]")
    best_score = {}
    for unit in chosen:
        best_score.setdefault(unit.hit_rank, unit.score)
    citations = tuple(_citation(n, hits[rank], best_score[rank]) for rank, n in numbers.items())
    return Answer(question=question, answer=" ".join(statements), found=True, citations=citations)


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


def _not_found(question: str, hits: list[Hit], units: list[Unit], not_found_text: str) -> Answer:
    """Say so plainly, and offer the passages with the strongest evidence, best first."""
    evidence: dict[int, float] = {}
    for unit in units:
        evidence.setdefault(unit.hit_rank, unit.score)
    closest = sorted(range(len(hits)), key=lambda rank: (-evidence.get(rank, 0.0), rank))[:CLOSEST_SHOWN]
    citations = tuple(_citation(n, hits[rank], evidence.get(rank, 0.0)) for n, rank in enumerate(closest, 1))
    return Answer(question=question, answer=not_found_text, found=False, citations=citations)


def _citation(n: int, hit: Hit, score: float) -> Citation:
    return Citation(
        n=n,
        doc_id=hit.doc.doc_id,
        title=hit.doc.title,
        date=hit.doc.date,
        source=hit.doc.source,
        quote=hit.chunk.text,
        score=round(float(score), 4),
    )
