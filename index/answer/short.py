"""The short answer: the reader's span in the passages the answer draws on, and the unit that holds it.

The trees (index.answer.scorer) say whether the documents answer and which units do, with
the reader's margins among their features; the reader (index.reader) says where in them the
answer is. It reads the passages of the best scored units, and its best span counts only
where it clears the reader's threshold and lies in a unit the trees find good enough to
answer with, so it picks the answer's first statement but never makes a declined question
answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.answer.answer_type import without_negation
from index.answer.features import READS, Reads, heading
from index.reader.model import Read
from index.schema import Hit

if TYPE_CHECKING:
    from index.answer.compose import Unit
    from index.reader.model import Reader


class PassageReads:
    """The reader's reads of one question's passages, by hit rank: each passage read once per question.
    `answer_reader`, where the answer model weighs another reader's margins than the span's (None: `reader`);
    `headed`: each passage read under its document's heading, which the reader reads but never answers with."""

    def __init__(self, reader: Reader, question: str, hits: list[Hit], answer_reader: Reader | None = None,
                 headed: bool = False) -> None:
        self.reader = reader
        self.answer_reader = answer_reader or reader
        self._question = question
        self._hits = hits
        self._headed = headed
        self._reads: dict[int, Read] = {}
        self._for_margins: PassageReads | None = None

    def margins(self, reads: Reads = READS) -> dict[int, Read]:
        """The reads the answer model's features take (index.answer.features), by hit rank, read for the question
        without its negation (see there)."""
        if self._for_margins is None or self._for_margins._headed != reads.under_heading:
            positive = without_negation(self._question)
            same = positive == self._question and self.answer_reader is self.reader \
                and self._headed == reads.under_heading
            self._for_margins = self if same else \
                PassageReads(self.answer_reader, positive, self._hits, headed=reads.under_heading)
        ranks = reads.ranks(self._hits)
        return dict(zip(ranks, self._for_margins.of(ranks)))

    def of(self, ranks: list[int]) -> list[Read]:
        """The reads of the passages of hits `ranks`, those not yet read read together in one batch."""
        missing = [rank for rank in dict.fromkeys(ranks) if rank not in self._reads]
        if missing:
            heads = [f"{heading(self._hits[rank])}\n\n" if self._headed else "" for rank in missing]
            texts = [head + self._hits[rank].chunk.text for head, rank in zip(heads, missing)]
            found = self.reader.read(self._question, texts, [len(head) for head in heads] if self._headed else None)
            self._reads.update((rank, _in_passage(read, len(head))) for rank, read, head in zip(missing, found, heads))
        return [self._reads[rank] for rank in ranks]


def _in_passage(read: Read, shift: int) -> Read:
    """A read of a passage under a heading of `shift` characters, its offsets the passage's."""
    if not shift:
        return read
    if read.start < shift:  # a passage too short to hold a span of its own
        return Read(0, 0, read.score, read.margin)
    return Read(read.start - shift, read.end - shift, read.score, read.margin)


@dataclass(frozen=True)
class ReadSpan:
    """The reader's span: offsets in the text of the passage of `unit`, inside that unit."""

    unit: Unit
    start: int
    end: int
    margin: float


def read_span(reads: PassageReads, hits: list[Hit], units: list[Unit], passages: int,
              min_score: float) -> ReadSpan | None:
    """The reader's best span over the passages of the best units, or None where it finds none it trusts."""
    ranks = list(dict.fromkeys(unit.hit_rank for unit in units))[:passages]
    if not ranks:
        return None
    rank, read = max(zip(ranks, reads.of(ranks)), key=lambda pair: pair[1].margin)
    if read.empty or read.margin <= reads.reader.span_threshold:
        return None
    unit = next((u for u in units if u.hit_rank == rank and u.start <= read.start < u.end), None)
    if unit is None or unit.score < min_score:
        return None
    text = hits[rank].chunk.text
    end = min(read.end, unit.end)
    while end > read.start and (text[end - 1] in " \t\n,;:" or _full_stop(text, end - 1)):  # "in 2017." -> "in 2017"
        end -= 1
    return ReadSpan(unit, read.start, end, read.margin) if end > read.start else None


def _full_stop(text: str, at: int) -> bool:
    """A sentence's closing stop, not an abbreviation's ("U.S.")."""
    return text[at] == "." and at > 0 and not text[at - 1].isupper()
