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
ANCHOR_CHARS = 40


def prepare(sections: tuple[Section, ...]) -> tuple[Section, ...]:
    """Sections with words hyphenated at line ends rejoined and running heads and feet dropped."""
    joined = tuple(Section(HYPHENATED.sub(r"\1", s.text), s.place, s.ocr) for s in sections)
    paged = [s for s in joined if s.place is not None]
    if len(paged) < MIN_PAGES:
        return joined
    repeated = _running_lines(paged)
    return tuple(Section(_without(s.text, repeated), s.place, s.ocr) if s.place is not None else s for s in joined)


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
