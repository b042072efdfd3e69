"""Plain-text rendering of answers for the terminal, through the templates in prompts/."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from index.answer.prompts import Prompts
from index.schema import Answer, Citation

QUOTE_WIDTH = 96
SOURCE_NUMBER = re.compile(r"[0-9]{1,3}")  # ASCII only: str.isdigit() also accepts "²", which int() refuses


def source_number(arg: str, count: int) -> int | None:
    """The source number a user typed after /source, if it is one of the `count` sources; else None."""
    if SOURCE_NUMBER.fullmatch(arg) is None:
        return None
    number = int(arg)
    return number if 1 <= number <= count else None


FALLBACK_NOTE = "The AI's wording said more than the documents do, so here are their own words."


def fallback_note(answer: Answer) -> str | None:
    """Said when an LLM wrote an answer and none of it was supported, so the quoted one is shown instead."""
    return FALLBACK_NOTE if answer.found and answer.mode == "extractive" and answer.sentences else None


def render_answer(answer: Answer, prompts: Prompts, full_quotes: bool = True) -> str:
    """The answer with its numbered sources; `full_quotes=False` lists title and date only."""
    sources = "\n".join(render_source(c, prompts) if full_quotes else source_line(c) for c in answer.citations)
    if answer.found:
        note = fallback_note(answer)
        rendered = prompts.render("answer", answer=answer.answer, sources=sources, question=answer.question)
        return f"({note})\n{rendered}" if note else rendered
    return prompts.render("closest", not_found=answer.answer, sources=sources, question=answer.question)


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


def render_source(citation: Citation, prompts: Prompts) -> str:
    """One source with its whole passage, as `/source N` shows it."""
    paragraphs = (p for p in citation.quote.split("\n") if p.strip())
    quote = "\n".join(textwrap.fill(p, QUOTE_WIDTH, initial_indent="    ", subsequent_indent="    ") for p in paragraphs)
    return prompts.render(
        "source",
        n=citation.n,
        title=citation.title,
        date=citation.date or "undated",
        doc_id=citation.doc_id,
        source=f" · {citation.source}" if citation.source else "",
        quote=quote,
        score=citation.score,
    )


def source_line(citation: Citation) -> str:
    return f"[{citation.n}] {citation.title} ({citation.date or 'undated'})"
