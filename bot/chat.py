"""A terminal chat over the pipeline: questions in, cited answers out, `/source N` for a passage."""

from __future__ import annotations

from collections.abc import Callable

from bot.render import StreamedAnswer, render_answer, render_source, source_number
from index.pipeline import EmptyQuestion, Pipeline, is_follow_up
from index.schema import Answer
from index.store.connections import StoreUnavailable

HELP = """Ask a question about the documents. Commands:
  /source N   show the full passage of source N of the last answer
  /help       this text
  /quit       leave (or Ctrl-D)"""


def run_chat(pipeline: Pipeline, read: Callable[[str], str] = input, write: Callable[[str], None] = print,
             write_part: Callable[[str], None] = lambda text: print(text, end="", flush=True)) -> None:
    """Read questions until end of input or /quit; `write` prints a line, `write_part` a streamed piece."""
    docs = len(pipeline.store.docs)
    write(f"citebot: {docs} documents, {len(pipeline.store.chunks)} passages. Type /help for commands.")
    last: Answer | None = None
    last_question: str | None = None  # a follow-up ("and when was he sentenced?") is read with it
    while True:
        try:
            line = read("\n? ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if line in ("/quit", "/exit", "/q"):
            return
        if line in ("/help", "/?"):
            write(HELP)
        elif line.startswith("/source"):
            write(_show_source(line, last, pipeline))
        elif line:
            previous = last_question if last_question and is_follow_up(line) else None
            streamed = StreamedAnswer(write_part)  # an LLM's checked sentences, as they pass
            try:
                last = pipeline.ask(line, previous, on_text=streamed)
            except (EmptyQuestion, StoreUnavailable) as error:
                write(str(error))
                continue
            last_question = f"{previous} {line}" if previous else line
            write(streamed.rest(render_answer(last, pipeline.prompts, full_quotes=False)))
        else:
            write("Type a question, or /help.")


def _show_source(line: str, last: Answer | None, pipeline: Pipeline) -> str:
    if last is None:
        return "Ask a question first; /source N then shows its passages."
    arg = line.removeprefix("/source").strip()
    numbers = {c.n: c for c in last.citations}
    number = source_number(arg, len(last.citations))
    if number not in numbers:
        return f"Give a source number from 1 to {len(numbers)}, e.g. /source 1."
    return render_source(numbers[number], pipeline.prompts)
