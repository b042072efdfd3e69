"""The terminal chat: answers with a compact source list, `/source N` shows the passage."""

from __future__ import annotations

from bot.chat import run_chat


def chat(pipeline, lines: list[str]) -> str:
    replies = iter(lines)
    written: list[str] = []

    def read(prompt: str) -> str:
        try:
            return next(replies)
        except StopIteration:
            raise EOFError from None

    run_chat(pipeline, read=read, write=written.append)
    return "\n".join(written)


def test_chat_answers_and_shows_a_source_on_demand(pipeline):
    out = chat(pipeline, ["When was the DVK movement banned?", "/source 1"])
    assert "13 March 2018 [1]" in out
    assert "[1] European Parliament motion for a resolution on the human rights situation in Kazakhstan" in out
    assert "2019-03-ep-motion-for-resolution-b8-0205-2019.txt · https://www.europarl.europa.eu" in out
    assert "Kenzhebek Abishev" in out  # the full passage, not only the answer's sentence


def test_chat_guides_on_odd_input(pipeline):
    out = chat(pipeline, ["/source 1", "", "???", "/source 9", "/quit", "never read"])
    assert "Ask a question first" in out
    assert "Type a question, or /help." in out
    assert "the question is empty" in out
    assert "never read" not in out


def test_chat_reads_a_follow_up_with_the_question_before(pipeline):
    out = chat(pipeline, ["why is maks bokayev in prison", "and where did the eu delegation visit him?"])
    assert "Petropavlovsk" in out
