"""What page-by-page text needs before it is cleaned: running heads and feet gone, words split at line ends
joined; and, after cleaning, where each page, slide or sheet begins in the cleaned text."""

from __future__ import annotations

import re
from collections import Counter

from index.ingest.clean import clean_text
from index.ingest.formats.base import Section
from index.schema import Place

MIN_PAGES = 3  # fewer pages cannot tell a running head from a line that happens to repeat
EDGE_LINES = 2  # lines at the top and at the bottom of a page where running heads and feet stand
REPEATED_SHARE = 0.5
HYPHENATED = re.compile(r"(\w)-\n(?=[a-zа-яёәғқңөұүһі])")
COMPOUND = re.compile(r"(\w)-\n(?=[A-ZА-ЯЁ])")  # "Asia-" / "Europe": the hyphen is the word's own
EXCLAIMED = re.compile(r"([!?])\n(?=[a-zа-яё])")  # "the Alga!" / "opposition party": a line break, not a new sentence
UNFINISHED = re.compile(r"[\w-]$")  # after a comma or semicolon a line may end an item ("having regard to ...,")
FULL_LINE = 0.75  # of a page's long lines: a line this long ended only because the line was full
ANCHOR_CHARS = 40


def prepare(sections: tuple[Section, ...]) -> tuple[Section, ...]:
    """Sections with words hyphenated at line ends rejoined, OCR's stray paragraph breaks closed, and running
    heads and feet dropped."""
    joined = tuple(Section(_unhyphenated(_closed(s.text) if s.ocr else s.text, paged=s.place is not None), s.place,
                           s.ocr) for s in sections)
    paged = [s for s in joined if s.place is not None]
    if len(paged) < MIN_PAGES:
        return joined
    repeated = _running_lines(paged)
    return tuple(Section(_without(s.text, repeated), s.place, s.ocr) if s.place is not None else s for s in joined)


def join(sections: tuple[Section, ...]) -> str:
    """The sections' text as one: a page whose last line was full and unfinished runs on into the next page."""
    parts: list[str] = []
    for section in sections:
        text = section.text.strip("\n")
        if not parts:
            parts.append(text)
        elif section.place is not None and _continues(parts[-1], text, _lines_full_at(parts[-1])):
            # A word split over the page break: "inter-" / "national" is one word, "Asia-" / "Europe" keeps its hyphen.
            if parts[-1].endswith("-") and text[:1].isalpha():
                parts[-1] = parts[-1][:-1] if text[:1].islower() else parts[-1]
                parts.append(text)
            else:
                parts += ["\n", text]
        else:
            parts += ["\n\n", text]
    return "".join(parts)


def _unhyphenated(text: str, paged: bool) -> str:
    text = HYPHENATED.sub(r"\1", text)
    return COMPOUND.sub(r"\1-", text) if paged else text


def _lines_full_at(text: str) -> int:
    """How long a line of this page is when it ended only because it was full: 3/4 of its usual long line (the
    80th percentile, as one line joined from two must not raise the bar)."""
    lengths = sorted(len(line.strip()) for line in text.split("\n") if line.strip())
    return int(FULL_LINE * lengths[int(0.8 * (len(lengths) - 1))]) if len(lengths) >= 3 else 10**9


def _continues(before: str, after: str, full: int) -> bool:
    """Does `after` carry on the paragraph `before` ends: `before`'s last line is full (`full` characters or
    more) and stops without punctuation, or stops at "!" or "?" with `after` going on in lower case ("the
    Alga!" / "opposition party")?"""
    last = next((line.strip() for line in reversed(before.split("\n")) if line.strip()), "")
    following = next((line.strip() for line in after.split("\n") if line.strip()), "")
    if not last or not following or len(last) < full:
        return False
    return UNFINISHED.search(last) is not None or (last[-1] in "!?" and following[:1].islower())


def _closed(text: str) -> str:
    """OCR puts a blank line where it sees a new block, and it sees one after a numbered item's first line or
    mid-paragraph: where the line before goes on into the one after (`_continues`), the break goes."""
    paragraphs = text.split("\n\n")
    full = _lines_full_at(text)
    paragraphs = [EXCLAIMED.sub(r"\1 ", paragraph) for paragraph in paragraphs]
    kept = paragraphs[:1]
    for paragraph in paragraphs[1:]:
        if _continues(kept[-1], paragraph, full):
            kept[-1] = f"{kept[-1]}\n{paragraph}"
        else:
            kept.append(paragraph)
    return "\n\n".join(kept)


def _key(line: str) -> str:
    """A line as it repeats from page to page: page numbers vary, so digits do not count."""
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def _edges(text: str) -> set[str]:
    lines = [line for line in text.split("\n") if line.strip()]
    return {_key(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:]}


def _running_lines(pages: list[Section]) -> set[str]:
    counts = Counter(key for page in pages for key in _edges(page.text))
    return {key for key, count in counts.items() if count >= max(MIN_PAGES, REPEATED_SHARE * len(pages))}


def _without(text: str, repeated: set[str]) -> str:
    lines = text.split("\n")
    filled = [at for at, line in enumerate(lines) if line.strip()]
    edges = set(filled[:EDGE_LINES] + filled[-EDGE_LINES:])
    return "\n".join(line for at, line in enumerate(lines) if at not in edges or _key(line) not in repeated)


def locate(sections: tuple[Section, ...], cleaned: str) -> tuple[Place, ...]:
    """Where each placed section's text begins in the cleaned document, found by its own first words."""
    places: list[Place] = []
    cursor = 0
    for section in sections:
        if section.place is None:
            continue
        anchor = clean_text(section.text)[:ANCHOR_CHARS]
        found = cleaned.find(anchor, cursor) if anchor else -1
        if found < 0:
            continue  # the page said nothing the cleaned text kept
        places.append(Place(found, section.place, section.ocr))
        cursor = found + 1
    return tuple(places)
