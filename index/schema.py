"""Plain records that flow between the layers: documents, chunks, hits, citations, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Span = tuple[int, int]


@dataclass(frozen=True)
class Place:
    """Where a page, slide or sheet of a file begins in its document's text."""

    start: int
    label: str  # "page 3", "slide 2", "sheet Cases"
    ocr: bool = False  # its text was read from a picture of it

    def shown(self) -> str:
        return f"{self.label}, read by OCR" if self.ocr else self.label


def place_at(places: tuple[Place, ...], offset: int) -> str | None:
    """"page 3" (", read by OCR") for the character at `offset` of a document's text; None if unplaced."""
    found = None
    for place in places:
        if place.start > offset:
            break
        found = place
    return found.shown() if found is not None else None


@dataclass(frozen=True)
class Document:
    """A document as read from the corpus, its furniture removed."""

    doc_id: str  # path relative to the corpus folder, with forward slashes
    title: str
    date: str | None
    source: str | None
    text: str
    content_hash: str  # sha256 of the file's bytes
    places: tuple[Place, ...] = ()  # its pages, slides or sheets, in order
    reader: str = ""  # the format and version it was read with ("pdf/2")
    ocr: str | None = None  # what its scanned pages were read with (index.ingest.formats.ocr.signature)
    ocr_pages: int = 0  # pages read by OCR
    notes: tuple[str, ...] = ()  # what was left out of it and why


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: what is embedded, searched and quoted."""

    chunk_id: int
    doc_id: str
    text: str
    start: int  # character offsets of `text` in the document's text
    end: int
    sentences: tuple[Span, ...]  # offsets of the quotable units, relative to `text`

    def to_record(self) -> dict[str, Any]:
        # Written out, not dataclasses.asdict: its deep copy took a third of an incremental build at 100k passages.
        return {"chunk_id": self.chunk_id, "doc_id": self.doc_id, "text": self.text, "start": self.start,
                "end": self.end, "sentences": [list(s) for s in self.sentences]}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Chunk:
        return cls(**{**record, "sentences": tuple(tuple(s) for s in record["sentences"])})


@dataclass(frozen=True)
class DocInfo:
    """What an answer shows about a document."""

    doc_id: str
    title: str
    date: str | None
    source: str | None
    places: tuple[Place, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with the evidence for it."""

    chunk: Chunk
    doc: DocInfo
    dense: float  # cosine similarity of question and passage
    unit_dense: tuple[float, ...]  # cosine of question and each of chunk.sentences
    dense_rank: int | None = None  # the passage's place in each retriever's list, from 0; None: not proposed
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    date: str | None
    source: str | None
    quote: str  # the exact passage text
    score: float
    focus: Span | None = None  # where in `quote` the first statement cited to it stands
    place: str | None = None  # the page, slide or sheet of that statement ("page 3, read by OCR")


@dataclass(frozen=True)
class ShortAnswer:
    """The exact answer the reader found: `text` is quote[start:end] of citation `citation`."""

    text: str
    citation: int  # the number n of the citation whose quote holds it
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    found: bool
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    confidence: float = 0.0  # the scorer's calibrated probability that the best unit answers the question
    mode: str = "extractive"  # "llm": an LLM worded it, each sentence checked against its passages
    sentences: tuple[CheckedSentence, ...] = ()  # in llm mode: every sentence the LLM wrote, shown or not
    span: ShortAnswer | None = None  # the short answer, when the reader found one in a cited passage
    nearest: str | None = None  # declined: the sentence that comes nearest, quoted and cited, when near enough

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "found": self.found,
            "confidence": self.confidence,
            "mode": self.mode,
            "citations": [asdict(c) for c in self.citations],
            "sentences": [asdict(s) for s in self.sentences],
            "span": asdict(self.span) if self.span is not None else None,
            "nearest": self.nearest,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        """The answer `to_json` wrote (kept by the bot's shared memory, so another replica can show its sources)."""
        return cls(question=data["question"], answer=data["answer"], found=data["found"],
                   confidence=data["confidence"], mode=data["mode"],
                   citations=tuple(Citation(**{**c, "focus": tuple(c["focus"]) if c.get("focus") else None})
                                   for c in data["citations"]),
                   sentences=tuple(CheckedSentence(**{**s, "cites": tuple(s["cites"]), "missing": tuple(s["missing"])})
                                   for s in data["sentences"]),
                   span=ShortAnswer(**data["span"]) if data.get("span") else None, nearest=data.get("nearest"))


@dataclass(frozen=True)
class CheckedSentence:
    """A sentence an LLM wrote, the passages it cites (numbered as shown; 0: a passage not shown) and the
    support check's verdict."""

    text: str
    cites: tuple[int, ...]
    supported: bool
    alignment: float
    missing: tuple[str, ...] = ()  # its facts the passages lack
    negation: bool = False
