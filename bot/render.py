"""Plain-text rendering of answers for the terminal, through the templates in prompts/."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from index.answer.prompts import Prompts
from index.schema import Answer, Citation

QUOTE_WIDTH = 96
EXCERPT_CONTEXT = 200  # characters of the passage shown either side of the cited sentence, at most
SHORT_LINE = 100  # a line above the cited one this short (a heading) is shown with it
SOURCE_NUMBER = re.compile(r"[0-9]{1,3}")  # ASCII only: str.isdigit() also accepts "²", which int() refuses


def source_number(arg: str, count: int) -> int | None:
    """The source number a user typed after /source, if it is one of the `count` sources; else None."""
    if SOURCE_NUMBER.fullmatch(arg) is None:
        return None
    number = int(arg)
    return number if 1 <= number <= count else None


NEAREST_HEADING = "The nearest the documents come (not an answer):"
FALLBACK_NOTE = "The AI's wording said more than the documents do, so here are their own words."


def fallback_note(answer: Answer) -> str | None:
    """Said when an LLM wrote an answer and none of it was supported, so the quoted one is shown instead."""
    return FALLBACK_NOTE if answer.found and answer.mode == "extractive" and answer.sentences else None


def short_line(answer: Answer) -> str | None:
    """The reader's exact answer with its citation, "29 November 2017 [1]", when it found one."""
    if answer.span is None or not answer.found:
        return None
    return f"{' '.join(answer.span.text.split())} [{answer.span.citation}]"


def render_answer(answer: Answer, prompts: Prompts, full_quotes: bool = True) -> str:
    """The answer, its short answer first and marked, with its numbered sources; each shown around the sentence
    it is cited for, or with `full_quotes=False` by title and date only."""
    sources = "\n".join(render_source(c, prompts, excerpt(c)) if full_quotes else source_line(c)
                        for c in answer.citations)
    if answer.found:
        note = fallback_note(answer)
        short = short_line(answer)
        text = f"» {short}\n{answer.answer}" if short else answer.answer
        rendered = prompts.render("answer", answer=text, sources=sources, question=answer.question)
        return f"({note})\n{rendered}" if note else rendered
    not_found = answer.answer
    if answer.nearest:
        nearest = textwrap.fill(answer.nearest, QUOTE_WIDTH, initial_indent="    ", subsequent_indent="    ")
        not_found = f"{not_found}\n\n{NEAREST_HEADING}\n{nearest}"
    return prompts.render("closest", not_found=not_found, sources=sources, question=answer.question)


class StreamedAnswer:
    """Prints an LLM answer's sentences as they pass the check, then what the finished answer adds."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write  # writes without a line end
        self.printed = ""

    def __call__(self, text: str) -> None:
        """The checked text so far (each call extends the last); print what is new."""
        self._write(text[len(self.printed):])
        self.printed = text

    def rest(self, rendered: str) -> str:
        """What is left to print of the finished answer, `rendered` whole."""
        if rendered.startswith(self.printed):
            return rendered[len(self.printed):]
        return "\n" + rendered  # not the streamed text (cannot happen today): print it whole, on a line of its own


def excerpt(citation: Citation, context: int = EXCERPT_CONTEXT) -> str:
    """The passage around the sentence it is cited for: that sentence's line (cut to `context` characters either
    side, "…" where cut) and a short line above it, such as a heading; the whole passage without a focus."""
    if citation.focus is None:
        return citation.quote
    quote, (start, end) = citation.quote, citation.focus
    first = quote.rfind("\n", 0, start) + 1
    if start - first > context:
        first = quote.find(" ", start - context, start) + 1 or start - context
    elif first > 0:
        above = quote.rfind("\n", 0, first - 1) + 1
        if len(quote[above:first].strip()) <= SHORT_LINE:
            first = above
    last = quote.find("\n", end)
    last = len(quote) if last < 0 else last
    if last - end > context:
        last = quote.rfind(" ", end, end + context)
        last = end + context if last < 0 else last
    head = "…" if quote[:first].strip() else ""
    tail = "…" if quote[last:].strip() else ""
    return f"{head}{quote[first:last].strip()}{tail}"


def render_source(citation: Citation, prompts: Prompts, text: str | None = None) -> str:
    """One source with its whole passage, as `/source N` shows it, or with `text` (an excerpt of it)."""
    paragraphs = (p for p in (citation.quote if text is None else text).split("\n") if p.strip())
    quote = "\n".join(textwrap.fill(p, QUOTE_WIDTH, initial_indent="    ", subsequent_indent="    ") for p in paragraphs)
    return prompts.render(
        "source",
        n=citation.n,
        title=citation.title,
        date=citation.date or "undated",
        place=f", {citation.place}" if citation.place else "",
        doc_id=citation.doc_id,
        source=f" · {citation.source}" if citation.source else "",
        quote=quote,
        score=citation.score,
    )


def source_line(citation: Citation) -> str:
    """"[1] Title (date), page 3, read by OCR": a source named as the list under an answer names it."""
    where = f", {citation.place}" if citation.place else ""
    return f"[{citation.n}] {citation.title} ({citation.date or 'undated'}){where}"
