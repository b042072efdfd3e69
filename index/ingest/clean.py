"""Turn extracted text into clean paragraphs: unwrap hard line breaks, drop site furniture.

Web and PDF exports carry menus, share links, contact blocks and lists of other
articles. Left in, they get retrieved and quoted as if they were the document's
statements, so they are removed before chunking.
"""

from __future__ import annotations

import re

# A line that is nothing but navigation, boilerplate or contact details.
FURNITURE_LINE = re.compile(
    r"""^(
        go\ back\ to\b.* | choose\ (the\ )?language.* | choisissez\ la\ langue.* | select\ language.*
      | quick\ search | advanced\ search | reset\ all | all\ news | more\ news | read\ more
      | share(\ this)?(\ (page|article))?:? | print(\ this\ page)? | skip\ to\ (main\ )?content
      | press\ releases? | contacts?:? | (tel|phone|fax|e-?mail)\s*:.* | legal\ notice
      | last\ updated:?.* | (pdf|word|doc)\ ?\d+\s?k(b)?(\s*(pdf|word|doc)\ ?\d+\s?k(b)?)*
      | cookies?(\ policy|\ settings)?.* | back\ to\ top | follow\ us.*
      | .{0,60}\ available\ here\.? | click\ here\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# A language-menu entry such as "bg - български" or "en - English (Selected)".
LANGUAGE_ITEM = re.compile(r"^[a-z]{2} - \w[\w ()]*$")
# A heading after which the rest of a page is other articles, downloads or contact blocks.
TAIL_MARKER = re.compile(
    r"""^(
        (.*:\ )?(the\ )?latest\ news | more\ news | related\ (news|articles|posts|stories|content)
      | subscribe\ to\b.* | download\ the\ .*: | read\ our\ reports:? | see\ also:?
      | contacts?:? | follow\ us.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Link text holds no "[": otherwise a line of 16,000 "[" took 24 s, each one trying to the end of the line.
MARKDOWN_LINK = re.compile(r"!?\[((?:\\.|[^\[\]\\])*)\]\([^)]*\)")
MARKDOWN_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
BULLET = re.compile(r"^\s*([•▪◦●‣∙·*+-]|\d{1,3}[.)])\s+")
# Numbered or lettered items ("4. Reiterates", "O. whereas") start a paragraph of their own.
NEW_ITEM = re.compile(r"^([•▪◦●‣∙·*+-]|\d{1,3}[.)]|[A-Z][.)])\s+")
SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")


def clean_text(raw: str) -> str:
    """The document's readable text: paragraphs separated by one blank line."""
    lines = _normalise(raw).split("\n")
    lines = _cut_tail(lines)
    paragraphs: list[str] = []
    current: list[str] = []  # the lines of the paragraph being read, joined once when it ends
    length = 0  # of those lines joined
    for line in lines:
        if not line.strip():
            _flush(current, paragraphs)
            continue
        if _is_furniture(line):
            continue
        stripped = _strip_markdown(line).strip()
        # Joining each line onto the paragraph's string instead was quadratic: 2.4 MB of wrapped lines took 121 s.
        if current and _continues(current[-1], length, stripped):
            length += 1 + len(stripped)
        else:
            _flush(current, paragraphs)
            length = len(stripped)
        current.append(stripped)
    _flush(current, paragraphs)
    return "\n\n".join(_join_broken(_drop_repeats(paragraphs)))


def _normalise(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\t", " ")
    text = re.sub(r"[\u200b\ufeff\uf0b7]", "", text)
    return "\n".join(re.sub(r" {2,}", " ", line).rstrip() for line in text.split("\n"))


def _cut_tail(lines: list[str]) -> list[str]:
    """Drop everything after a tail heading in the second half of the page."""
    half = len(lines) // 2
    for i, line in enumerate(lines):
        if i >= half and TAIL_MARKER.match(_strip_markdown(line).strip()):
            return lines[:i]
    return lines


def _is_furniture(line: str) -> bool:
    text = line.strip()
    body = BULLET.sub("", text)
    if FURNITURE_LINE.match(body) or LANGUAGE_ITEM.match(body):
        return True
    # A list item that is only a link (related reads, downloads) says nothing itself.
    return bool(BULLET.match(text)) and MARKDOWN_LINK.fullmatch(body.strip()) is not None


def _strip_markdown(line: str) -> str:
    line = MARKDOWN_LINK.sub(lambda m: m.group(1).replace("\\", ""), line)
    line = MARKDOWN_EMPHASIS.sub(r"\2", line)
    return re.sub(r"^#{1,6}\s+", "", line)


def _continues(previous_line: str, paragraph_length: int, line: str) -> bool:
    """Is `line` the hard-wrapped continuation of the paragraph ending in `previous_line`?"""
    if NEW_ITEM.match(line) or SENTENCE_END.search(previous_line):
        return False
    # Wrapped prose fills its lines; menus and headings are short.
    return paragraph_length >= 50 or (line[:1].islower() and paragraph_length >= 25)


def _flush(current: list[str], paragraphs: list[str]) -> None:
    paragraph = " ".join(current)
    if paragraph:
        paragraphs.append(paragraph)
    current.clear()


def _drop_repeats(paragraphs: list[str]) -> list[str]:
    """Pages often print a headline twice (link card and heading); keep the first."""
    kept: list[str] = []
    for paragraph in paragraphs:
        if not kept or paragraph != kept[-1]:
            kept.append(paragraph)
    return kept


def _join_broken(paragraphs: list[str]) -> list[str]:
    """Re-join a sentence that a stray blank line or page break cut in two."""
    joined: list[str] = []
    for paragraph in paragraphs:
        # Only a paragraph that stops mid-phrase (no punctuation at all) is a broken one;
        # "having regard to ...," clauses end in commas and stand on their own.
        if joined and paragraph[:1].islower() and joined[-1][-1:].isalnum():
            joined[-1] = f"{joined[-1]} {paragraph}"
        else:
            joined.append(paragraph)
    return joined
