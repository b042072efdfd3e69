"""Split a document into quotable units and pack them into chunks.

Units are what an extractive answer quotes, so each one is an exact span of the
document's text: a sentence (a clause of a very long one), a line of its own such as
"Chair of the delegation: Christian Sagartz" or a list item, and a short heading
together with the line under it. Chunks are runs of whole units sized in the embedding
model's own word pieces, overlapping by whole units.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from index.schema import Chunk, Document, Span

SPLITTER_VERSION = "paragraph-punkt-clause-heading/4"
LONG_SENTENCE_WORDS = 45  # resolutions run to 150-word sentences of "; whereas" clauses
MIN_UNIT_WORDS = 3
SPECIAL_TOKENS = 3  # [CLS], [SEP] and the line break after the title
WORDS_PER_TOKEN_CAP = 4  # a unit of more words than 4 chunk budgets is cut by words before tokens are counted
HEADING_WORDS = 12  # a short paragraph without closing punctuation heads the one below it
CLOSING = re.compile(r"[.!?;:,][\"'”’)\]]*$")
# Punkt as bundled knows no abbreviations: "Art. 19", "5 Jan. 2019" and "the U.S. Senate" were cut in two.
# These are common English ones, not this corpus's; initials ("J. R. Smith") punkt handles itself.
ABBREVIATIONS = frozenset(
    "no nos art arts para paras vol vols pp ch sec fig figs ca approx cf vs etc e.g i.e al "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun "
    "mr mrs ms dr prof st jr sr gen col lt sgt capt sen rep gov pres hon rev "
    "inc ltd co corp dept univ assn est no.s u.s u.k u.n e.u u.s.a".split()
)

TokenCounter = Callable[[Sequence[str]], list[int]]


@lru_cache(maxsize=1)
def _punkt():
    # llama-index bundles NLTK's punkt model, so nothing is downloaded.
    from llama_index.core.utils import globals_helper

    tokenizer = globals_helper.punkt_tokenizer
    tokenizer._params.abbrev_types.update(ABBREVIATIONS)
    return tokenizer


def quotable_units(text: str) -> list[Span]:
    """Offsets of the units of `text`, paragraph by paragraph; a heading joins the first unit below it."""
    units: list[Span] = []
    paragraphs = _paragraphs(text)
    heading: int | None = None
    for at, (base, end) in enumerate(paragraphs):
        paragraph = text[base:end]
        spans = [span for s, e in _sentences(paragraph) for span in _clauses(text, base + s, base + e)]
        merged = _merge_fragments(text, spans)
        if heading is not None and merged:
            merged[0] = (heading, merged[0][1])
            heading = None
        following = text[slice(*paragraphs[at + 1])] if at + 1 < len(paragraphs) else ""
        if _is_heading(paragraph) and following and not _is_heading(following):
            heading = base
        else:
            units.extend(merged)
    return units


def _paragraphs(text: str) -> list[Span]:
    """Lines of text; one that starts in lower case after one that ends without any punctuation continues it
    ("activists Maks Bokayev" / "and Talgat Ayan received prison terms"): a break the source file put mid-sentence.
    After a comma or semicolon it does not: a resolution's "having regard to ...," clauses are items of their own."""
    paragraphs: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        if not line.group().strip():
            continue
        if paragraphs and line.group().lstrip()[:1].islower() and \
                not CLOSING.search(text[slice(*paragraphs[-1])].rstrip()):
            paragraphs[-1] = (paragraphs[-1][0], line.end())
        else:
            paragraphs.append(line.span())
    return paragraphs


def _sentences(paragraph: str) -> list[Span]:
    """Punkt's sentences, rejoined where it cut before a lower-case word ("the Alga! opposition party")."""
    sentences: list[Span] = []
    for start, end in _punkt().span_tokenize(paragraph):
        if sentences and paragraph[start : start + 1].islower():
            sentences[-1] = (sentences[-1][0], end)
        else:
            sentences.append((start, end))
    return sentences


def _is_heading(paragraph: str) -> bool:
    words = paragraph.split()
    return 0 < len(words) <= HEADING_WORDS and not CLOSING.search(paragraph.strip()) and paragraph[:1].isupper()


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
    elif pending is not None:  # a paragraph of scraps alone ('."0') was dropped, its words unsearchable
        merged.append((pending, spans[-1][1]))
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
    units = _cap_words(text, units, WORDS_PER_TOKEN_CAP * budget, budget // 2)
    sizes = count_tokens([text[s:e] for s, e in units])
    fitted: list[Span] = []
    for (start, end), size in zip(units, sizes):
        if size <= budget:
            fitted.append((start, end))
            continue
        fitted += _pieces_within(text, start, end, count_tokens, budget)
    return fitted


def _pieces_within(text: str, start: int, end: int, count_tokens: TokenCounter, budget: int) -> list[Span]:
    """Whole words packed into pieces of at most `budget` tokens (a single longer word is a piece alone).

    Word pieces never span whitespace, so a piece's count is the sum of its words'. Cutting by the unit's
    average tokens per word instead gave pieces over the budget when the words were uneven ("002A0000…").
    """
    words = _words(text, start, end)
    pieces: list[Span] = []
    first, previous_end, total = words[0][0], words[0][1], 0
    for (word_start, word_end), size in zip(words, count_tokens([text[a:b] for a, b in words])):
        if total and total + size > budget:
            pieces.append((first, previous_end))
            first, total = word_start, 0
        total += size
        previous_end = word_end
    pieces.append((first, previous_end))
    return pieces


def _cap_words(text: str, units: list[Span], most_words: int, piece_words: int) -> list[Span]:
    """Units of more than `most_words` words cut into pieces of `piece_words`, before their tokens are counted:
    a 10 MB paragraph without a full stop, counted whole, took the tokenizer 1.6 GB and 10 s."""
    capped: list[Span] = []
    for start, end in units:
        runs, words = _word_runs(text, start, end, piece_words) if end - start > most_words else ([], 0)
        capped += runs if words > most_words else [(start, end)]
    return capped


def _word_runs(text: str, start: int, end: int, per_run: int) -> tuple[list[Span], int]:
    """Runs of `per_run` words between `start` and `end`, and the number of words; the words themselves are
    not kept, which for a 10 MB paragraph would be 1.6 million spans."""
    runs: list[Span] = []
    count = first = last = 0
    for match in re.finditer(r"\S+", text[start:end]):
        if count % per_run == 0:
            first = start + match.start()
        count += 1
        last = start + match.end()
        if count % per_run == 0:
            runs.append((first, last))
    if count % per_run:
        runs.append((first, last))
    return runs, count


def _words(text: str, start: int, end: int) -> list[Span]:
    """Offsets in `text` of the words between `start` and `end`."""
    return [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]


def _make_chunk(doc: Document, chunk_id: int, units: list[Span]) -> Chunk:
    start, end = units[0][0], units[-1][1]
    relative = tuple((s - start, e - start) for s, e in units)
    return Chunk(chunk_id=chunk_id, doc_id=doc.doc_id, text=doc.text[start:end], start=start, end=end, sentences=relative)
