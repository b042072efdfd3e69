"""Answers and passages as Telegram HTML, cut into messages of at most 4096 characters.

All corpus and user text is escaped. Splitting happens on the plain text, before
escaping and wrapping, so no tag or entity is ever cut in two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from bot.render import NEAREST_HEADING, short_line, source_line
from index.schema import Answer, Citation

TELEGRAM_LIMIT = 4096
ESCAPED_WIDTH = len("&amp;")  # the most one character grows when escaped
SEPARATOR = "\n\n"
STYLES = {"plain": ("", ""), "bold": ("<b>", "</b>"), "italic": ("<i>", "</i>"),
          "quote": ("<blockquote>", "</blockquote>")}


@dataclass(frozen=True)
class Paragraph:
    text: str  # plain text
    style: str = "plain"
    link: str | None = None  # a URL the text links to

    def html(self, text: str | None = None) -> str:
        body = escape(self.text if text is None else text, quote=False)
        if self.link:
            body = f'<a href="{escape(self.link)}">{body}</a>'
        start, end = STYLES[self.style]
        return f"{start}{body}{end}"


def answer_messages(answer: Answer, not_found_heading: str = "Closest passages:", note: str | None = None,
                    limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The answer with [n] markers, then a compact numbered source list."""
    paragraphs = [Paragraph(note, "italic")] if note else []
    short = short_line(answer)
    if short:
        paragraphs.append(Paragraph(short, "bold"))
    paragraphs.append(Paragraph(answer.answer))
    if answer.nearest and not answer.found:
        paragraphs += [Paragraph(NEAREST_HEADING, "italic"), Paragraph(answer.nearest, "quote")]
    if answer.citations:
        paragraphs.append(Paragraph("Sources:" if answer.found else not_found_heading, "bold"))
        paragraphs.append(Paragraph("\n".join(source_line(c) for c in answer.citations)))
    return pack(paragraphs, limit)


def passage_messages(citation: Citation, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """One source in full: title, date, document, link and the passage itself."""
    paragraphs = [Paragraph(f"[{citation.n}] {citation.title}", "bold"),
                  Paragraph(" · ".join(filter(None, (citation.date or "undated", citation.doc_id, citation.place))))]
    if citation.source:
        is_url = re.match(r"https?://", citation.source) is not None
        paragraphs.append(Paragraph(citation.source, link=citation.source if is_url else None))
    paragraphs.append(Paragraph(citation.quote, "quote"))
    return pack(paragraphs, limit)


def pack(paragraphs: list[Paragraph], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Join paragraphs into as few messages as fit, splitting an over-long one on its own boundaries."""
    messages: list[str] = []
    current = ""
    for paragraph in paragraphs:
        for piece in _pieces(paragraph, limit):
            joined = f"{current}{SEPARATOR}{piece}" if current else piece
            if len(joined) <= limit:
                current = joined
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _pieces(paragraph: Paragraph, limit: int) -> list[str]:
    """The paragraph as balanced HTML pieces each within `limit`: cut at lines, sentences, then words."""
    if len(paragraph.html()) <= limit:
        return [paragraph.html()]
    pieces, current = [], ""
    for token in _tokens(paragraph, limit):
        candidate = current + token
        if current and len(paragraph.html(candidate.strip())) > limit:
            pieces.append(paragraph.html(current.strip()))
            current = token
        else:
            current = candidate
    if current.strip():
        pieces.append(paragraph.html(current.strip()))
    return pieces


def _tokens(paragraph: Paragraph, limit: int) -> list[str]:
    """Lines, sentences and words; a word too long for a message alone (9,000 letters, or 4,000 "&" that escape
    to 20,000 characters) in slices that fit even if every character escapes to five."""
    tokens = []
    width = max(1, (limit - len(paragraph.html(""))) // ESCAPED_WIDTH)
    for token in re.split(r"(?<=\n)|(?<=[.!?;] )|(?<= )", paragraph.text):
        if len(paragraph.html(token.strip())) <= limit:
            tokens.append(token)
        else:
            tokens += [token[i : i + width] for i in range(0, len(token), width)]
    return tokens
