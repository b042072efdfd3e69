"""Split a document into quotable units (sentences, or clauses of very long sentences) and pack them into chunks.

Units are what an extractive answer quotes, so each one is an exact span of the
document's text. Chunks are runs of whole units sized in the embedding model's own
word pieces, overlapping by whole units.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from index.schema import Chunk, Document, Span

SPLITTER_VERSION = "paragraph-punkt-clause/1"
LONG_SENTENCE_WORDS = 45  # resolutions run to 150-word sentences of "; whereas" clauses
MIN_UNIT_WORDS = 3
SPECIAL_TOKENS = 3  # [CLS], [SEP] and the line break after the title

TokenCounter = Callable[[Sequence[str]], list[int]]


@lru_cache(maxsize=1)
def _punkt():
    # llama-index bundles NLTK's punkt model, so nothing is downloaded.
    from llama_index.core.utils import globals_helper

    return globals_helper.punkt_tokenizer


def quotable_units(text: str) -> list[Span]:
    """Offsets of the sentences (clauses, for very long ones) of `text`, paragraph by paragraph."""
    units: list[Span] = []
    for paragraph in re.finditer(r"[^\n]+", text):
        base = paragraph.start()
        sentences = _punkt().span_tokenize(paragraph.group())
        spans = [span for s, e in sentences for span in _clauses(text, base + s, base + e)]
        units.extend(_merge_fragments(text, spans))
    return units


def _clauses(text: str, start: int, end: int) -> list[Span]:
    if len(text[start:end].split()) <= LONG_SENTENCE_WORDS:
        return [(start, end)]
    cuts = [m.end() for m in re.finditer(r";\s+", text[start:end])]
    bounds = [start] + [start + c for c in cuts] + [end]
    return [(a, _rstrip(text, a, b)) for a, b in zip(bounds, bounds[1:]) if text[a:b].strip()]


def _merge_fragments(text: str, spans: list[Span]) -> list[Span]:
    """Fold item labels ("A.", "1.") and other scraps into the unit that follows."""
    merged: list[Span] = []
    pending: int | None = None
    for start, end in spans:
        start = pending if pending is not None else start
        pending = None
        if len(text[start:end].split()) < MIN_UNIT_WORDS and (start, end) != spans[-1]:
            pending = start
            continue
        merged.append((start, end))
    if pending is not None and merged:
        merged[-1] = (merged[-1][0], spans[-1][1])
    return merged


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def embedding_text(title: str, passage: str) -> str:
    """What the encoder reads for a passage: its document's title gives it context."""
    return f"{title}\n{passage}"


def chunk_document(
    doc: Document, first_id: int, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Pack the document's units into chunks of at most `max_tokens` (title included)."""
    budget = max(16, max_tokens - count_tokens([doc.title])[0] - SPECIAL_TOKENS)
    units = _fit_units(doc.text, quotable_units(doc.text), count_tokens, budget)
    sizes = count_tokens([doc.text[s:e] for s, e in units])
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last, total = first, 0
        while last < len(units) and (last == first or total + sizes[last] <= budget):
            total += sizes[last]
            last += 1
        chunks.append(_make_chunk(doc, first_id + len(chunks), units[first:last]))
        if last == len(units):
            break
        first = _overlap_start(sizes, first, last, overlap_tokens, budget)
    return chunks


def _overlap_start(sizes: list[int], first: int, last: int, overlap_tokens: int, budget: int) -> int:
    """Step back over whole units worth at most `overlap_tokens`, always moving forward.

    The last unit is repeated even when it alone exceeds `overlap_tokens` (up to half a
    chunk), so no boundary between chunks goes without shared context.
    """
    start, repeated = last, 0
    while start - 1 > first:
        size = sizes[start - 1]
        if repeated + size > overlap_tokens and not (repeated == 0 and size <= budget // 2):
            break
        start -= 1
        repeated += size
    return start


def _fit_units(text: str, units: list[Span], count_tokens: TokenCounter, budget: int) -> list[Span]:
    """Cut any unit longer than a whole chunk at word boundaries, so nothing is truncated unseen."""
    sizes = count_tokens([text[s:e] for s, e in units])
    fitted: list[Span] = []
    for (start, end), size in zip(units, sizes):
        if size <= budget:
            fitted.append((start, end))
            continue
        words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
        per_piece = max(1, len(words) * budget // size - 1)
        for i in range(0, len(words), per_piece):
            piece = words[i : i + per_piece]
            fitted.append((start + piece[0][0], start + piece[-1][1]))
    return fitted


def _make_chunk(doc: Document, chunk_id: int, units: list[Span]) -> Chunk:
    start, end = units[0][0], units[-1][1]
    relative = tuple((s - start, e - start) for s, e in units)
    return Chunk(chunk_id=chunk_id, doc_id=doc.doc_id, text=doc.text[start:end], start=start, end=end, sentences=relative)
