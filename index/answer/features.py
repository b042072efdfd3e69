"""What the answer scorer knows about each candidate unit: one row of numbers per unit of the retrieved passages.

The features are those a reader weighs: does the unit say what the question asks about
(cosines, the question's weighted terms, its rarest terms, its names, numbers and
dates), does it add something the question does not already say (an answer of the
asked kind, new words), how strongly retrieval found its passage, and how it compares
with the best of the other candidates. A question that swaps one name or date for
another, the typical unanswerable one, shows as a specific term missing from every
candidate, or as a term the corpus never uses at all. The span reader (index.reader) adds
what reading finds: how far its best span in a unit's passage beats "no answer", and
whether that span lies in the unit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.answer.answer_type import expected_kind, holds_new_answer
from index.store.lexical import terms
from index.schema import Hit

if TYPE_CHECKING:
    from index.reader.model import Read

RETRIEVAL_FEATURES = (
    "unit_cosine", "passage_cosine", "unit_cosine_gap", "passage_cosine_gap",
    "coverage", "passage_coverage", "document_coverage", "coverage_gap", "unit_bm25",
    "rarest_in_unit", "rarest_in_passage", "specifics_missing_unit", "specifics_missing_passage",
    "unknown_terms", "type_match", "type_missing", "new_words",
    "dense_rank", "lexical_rank", "hit_rank", "unit_words", "question_terms", "label_line",
)
# The reader's margin in the unit's passage, whether its span there lies in the unit, the question's best margin,
# and whether the question's best span lies in the unit.
READER_FEATURES = ("reader_passage_margin", "reader_span_in_unit", "reader_best_margin", "reader_best_span_in_unit")
FEATURES = RETRIEVAL_FEATURES + READER_FEATURES


def columns_of(names: Sequence[str]) -> list[int]:
    """Where the features `names` stand in a row of FEATURES, in the order given."""
    return [FEATURES.index(name) for name in names]


@dataclass(frozen=True)
class Reads:
    """Which passages the answer reader reads for the answer model's columns, and how: chosen before the trees score,
    so reading does not wait on them. A model fitted on other reads weighs other numbers, so its card records them."""

    fusion_first: int = 2  # the first hits of the fused ranking
    bm25_first: int = 0  # ... and the passages BM25 alone ranks this high
    under_heading: bool = False  # each read under its document's title and date (index.answer.short)

    def ranks(self, hits: list[Hit]) -> list[int]:
        """The hit ranks whose passages are read, in that order."""
        lexical = (rank for rank, hit in enumerate(hits) if hit.lexical_rank is not None
                   and hit.lexical_rank < self.bm25_first)
        return list(dict.fromkeys([*range(min(self.fusion_first, len(hits))), *lexical]))

    @classmethod
    def parse(cls, text: str) -> Reads:
        """From "2+1/heading": fusion's first two, BM25's first, under the heading ("2", "2+0": the first two, bare)."""
        counts, _, how = text.partition("/")
        fusion, _, lexical = counts.partition("+")
        if not fusion.isdigit() or not (lexical or "0").isdigit() or how not in ("", "heading"):
            raise ValueError(f"reads {text!r}: expected FUSION[+BM25][/heading], as 2+1/heading")
        return cls(int(fusion), int(lexical or 0), how == "heading")

    def spec(self) -> str:
        """As `parse` reads it."""
        return f"{self.fusion_first}+{self.bm25_first}{'/heading' if self.under_heading else ''}"


# The shipped answer model's. Reading BM25's first passage too and every passage under its document's title and date
# raised the corpus's development figures but not its report part's, and lowered SQuAD's (README, "What limits it").
READS = Reads()
UNREAD = -20.0  # the margin of a passage the reader did not read: far under any read one
MIN_WORDS = 3  # shorter units are scraps, unless a "Label: value" line
BM25_K1, BM25_B, MEAN_UNIT_TERMS = 1.2, 0.75, 12.0
RAREST = 2  # the question's rarest terms: the ones a look-alike unanswerable question changes
# At the start of any line: a heading unit carries the line under it ("Composition…\n\nChair of the delegation: …").
LABEL_LINE = re.compile(r"^[A-Z][^.:!?\n]{1,60}:\s+\S", re.MULTILINE)
SPECIFIC = re.compile(r"(?<!^)(?<![.!?]\s)\b([A-Z][\w'-]*|\d[\d,.]*)")


@dataclass(frozen=True)
class Question:
    """A question's text with the term statistics the features need."""

    text: str
    weights: dict[str, float]  # term → weight as evidence (LexicalIndex.query_weights)
    unknown: frozenset[str]  # terms no passage uses

    @property
    def specifics(self) -> frozenset[str]:
        """Terms of its names and numbers (words capitalised mid-sentence, figures)."""
        return frozenset(t for word in SPECIFIC.findall(self.text) for t in terms(word)) & set(self.weights)


@dataclass(frozen=True)
class Candidate:
    """A quotable unit of a retrieved passage."""

    hit_rank: int
    start: int  # offsets in the passage's text
    end: int
    covered: frozenset[str]  # question terms the unit contains


def heading(hit: Hit) -> str:
    """What a reader of the whole document knows of any passage in it: the document's title and date."""
    return ". ".join(part for part in (hit.doc.title, hit.doc.date or "") if part)


def candidates(question: Question, hits: list[Hit],
               reads: Mapping[int, Read] | None = None) -> tuple[list[Candidate], np.ndarray]:
    """Every distinct unit of the hits, with one feature row each (columns in FEATURES order); `reads`: the
    reader's reads of the passages a `Reads` names, by hit rank (none: its columns say unread)."""
    weights = question.weights
    total = _total(weights.values()) or 1.0
    kind = expected_kind(question.text)
    rarest = frozenset(sorted(weights, key=lambda t: (-weights[t], t))[:RAREST])
    specifics = question.specifics
    specific_weight = _total(weights[t] for t in specifics) or 1.0
    unknown_share = _total(weights[t] for t in question.unknown) / total
    found: list[Candidate] = []
    rows: list[list[float]] = []
    seen: set[tuple[str, int]] = set()
    passage_terms = [frozenset(weights).intersection(terms(_dated(hit))) for hit in hits]
    # What the retrieved passages of one document say together: a name defined a paragraph above counts.
    in_document: dict[str, frozenset[str]] = {}
    for hit, found_terms in zip(hits, passage_terms):
        in_document[hit.chunk.doc_id] = in_document.get(hit.chunk.doc_id, frozenset()) | found_terms
    for rank, hit in enumerate(hits):
        in_passage = passage_terms[rank]
        document_share = _total(weights[t] for t in in_document[hit.chunk.doc_id]) / total
        for (start, end), unit_dense in zip(hit.chunk.sentences, hit.unit_dense):
            text = hit.chunk.text[start:end]
            where = (hit.chunk.doc_id, hit.chunk.start + start)
            words = len(text.split())
            label = bool(LABEL_LINE.search(text))
            if where in seen or (words < MIN_WORDS and not (label and words >= 2)):
                continue
            seen.add(where)
            unit_terms = terms(text)
            covered = frozenset(weights).intersection(unit_terms)
            new_answer = kind is not None and holds_new_answer(kind, text, question.text)
            found.append(Candidate(rank, start, end, covered))
            rows.append([
                unit_dense, hit.dense, 0.0, 0.0,
                _total(weights[t] for t in covered) / total, _total(weights[t] for t in in_passage) / total,
                document_share, 0.0,
                _bm25(weights, unit_terms) / total,
                len(rarest & covered) / max(1, len(rarest)), len(rarest & in_passage) / max(1, len(rarest)),
                _total(weights[t] for t in specifics - covered) / specific_weight,
                _total(weights[t] for t in specifics - in_passage) / specific_weight,
                unknown_share,
                float(new_answer), float(kind is not None and not new_answer),
                sum(t not in weights for t in unit_terms) / max(1, len(unit_terms)),
                _reciprocal(hit.dense_rank), _reciprocal(hit.lexical_rank), 1.0 / (1 + rank),
                math.log1p(words), math.log1p(len(weights)), float(label),
            ])
    matrix = np.hstack([np.asarray(rows, dtype=np.float64).reshape(-1, len(RETRIEVAL_FEATURES)),
                        _reader_columns(found, reads or {})])
    _fill_gaps(matrix)
    return found, matrix


def _reader_columns(found: list[Candidate], reads: Mapping[int, Read]) -> np.ndarray:
    """READER_FEATURES for each unit; a unit of a passage not read gets UNREAD."""
    best = max(reads, key=lambda rank: (reads[rank].margin, -rank)) if reads else -1
    top = reads[best].margin if reads else UNREAD
    rows = []
    for unit in found:
        read = reads.get(unit.hit_rank)
        inside = read is not None and not read.empty and unit.start <= read.start < unit.end
        rows.append([read.margin if read else UNREAD, float(inside), top, float(inside and unit.hit_rank == best)])
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(READER_FEATURES))


def _dated(hit: Hit) -> str:
    """A passage under its document's date: "in 2022" is said by a press release of 2022 that never repeats the year."""
    return f"{hit.doc.date}\n{hit.chunk.text}" if hit.doc.date else hit.chunk.text


def _total(values) -> float:
    """Exactly rounded, so the sum over a set of terms does not depend on the set's (per-process) order."""
    return math.fsum(values)


def _bm25(weights: dict[str, float], unit_terms: list[str]) -> float:
    length = len(unit_terms) or 1
    return _total(weight * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / MEAN_UNIT_TERMS))
                  for term, weight in weights.items() if (tf := unit_terms.count(term)))


def _reciprocal(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / (1 + rank)


def _fill_gaps(matrix: np.ndarray) -> None:
    """How far each unit falls behind the best candidate on the main evidence (0 for the best)."""
    if not len(matrix):
        return
    column = {name: i for i, name in enumerate(FEATURES)}
    for value, gap in (("unit_cosine", "unit_cosine_gap"), ("passage_cosine", "passage_cosine_gap"),
                       ("coverage", "coverage_gap")):
        matrix[:, column[gap]] = matrix[:, column[value]].max() - matrix[:, column[value]]
