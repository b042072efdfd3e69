"""Optional generative answers: an LLM turns the retrieved passages into prose, every sentence cited.

Off by default (no LLM weights exist offline). It talks to any OpenAI-compatible
endpoint through the OpenAI SDK (OpenAI, vLLM, llama.cpp's server, Ollama's /v1), or
runs a GGUF file in process (index.answer.gguf). The LLM is asked only when the extractive
evidence clears the not-found threshold, so abstention stays calibrated. Its reply is streamed
and checked sentence by sentence (index.answer.reply): a sentence its passages do not support
(index.answer.support) is never shown, and with nothing left the extractive answer stands.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from index.answer.compose import citation
from index.answer.prompts import Prompts
from index.answer.reply import CheckedReply, SupportCheck, Verdict, cited_statements
from index.schema import Answer, CheckedSentence, Hit
from index.settings import Settings

__all__ = ["LlmAnswerer", "LlmUnavailable", "cited_statements"]
log = logging.getLogger(__name__)
DELIMITER = re.compile(r"<{3}|>{3}")
REPLY_TOKENS = 320  # a few cited sentences; the check reads no further


class LlmUnavailable(Exception):
    """The LLM option is configured but cannot be set up."""


class Generator(Protocol):
    def generate(self, prompt: str, take: Callable[[str], bool]) -> None:
        """Stream the reply to `prompt` into `take`, piece by piece, until it ends or `take` returns True."""


class EndpointLlm:
    """An OpenAI-compatible chat endpoint, streamed with the OpenAI SDK.

    Not through llama-index's OpenAILike: closing its stream left the HTTP response open until
    a garbage collection, and the server went on writing (a one-slot llama.cpp server makes
    the next question wait for that). This stream is closed the moment the reader stops.
    """

    def __init__(self, client: Any, model: str) -> None:
        self._client = client
        self._model = model

    def generate(self, prompt: str, take: Callable[[str], bool]) -> None:
        with self._client.chat.completions.create(
                model=self._model, messages=[{"role": "user", "content": prompt}], stream=True,
                temperature=0.0, max_tokens=REPLY_TOKENS) as stream:
            for chunk in stream:
                if chunk.choices and take(chunk.choices[0].delta.content or ""):
                    return


class LlmAnswerer:
    def __init__(self, llm: Generator, prompts: Prompts, most_sentences: int = 3, seconds: float = 60.0) -> None:
        self._llm = llm
        self._prompts = prompts
        self._most = most_sentences  # shown, at most; the model is stopped there
        self._seconds = seconds  # for a whole answer: the endpoint's timeout bounds each read, not the answer

    @classmethod
    def from_settings(cls, settings: Settings, prompts: Prompts) -> LlmAnswerer:
        if settings.llm_model_path is not None:
            from index.answer.gguf import GgufLlm

            return cls(GgufLlm(settings.llm_model_path, REPLY_TOKENS), prompts, settings.answer_sentences,
                       settings.llm_answer_seconds)
        if not settings.llm_model or not settings.llm_base_url:
            raise LlmUnavailable("CITEBOT_LLM_PROVIDER=openai needs CITEBOT_LLM_MODEL and CITEBOT_LLM_BASE_URL")
        try:
            from openai import OpenAI
        except ImportError:
            raise LlmUnavailable("the LLM option needs its extra: pip install -e '.[llm]'") from None
        client = OpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key.get_secret_value() or "none",
                        timeout=60.0, max_retries=1)
        return cls(EndpointLlm(client, settings.llm_model), prompts, settings.answer_sentences,
                   settings.llm_answer_seconds)

    def answer(self, extractive: Answer, hits: list[Hit], support: SupportCheck,
               on_text: Callable[[str], None] | None = None) -> Answer:
        """The LLM's cited answer, each sentence shown only if `support` finds it in the passages it cites;
        the extractive answer when the LLM fails before a sentence passed, says NOT FOUND (the evidence cleared
        the threshold: the model does not override it) or leaves no supported sentence.

        `on_text` gets the answer's text so far each time a sentence passes, as the model writes it.
        """
        # Inside delimiters the model is told are quoted data; the delimiters cannot occur in the text itself.
        passages = "\n\n".join(f"<<<PASSAGE [{n}] {_quoted(hit.doc.title)} ({hit.doc.date or 'undated'})>>>\n"
                                 f"{_quoted(hit.chunk.text)}\n<<<END OF PASSAGE [{n}]>>>" for n, hit in enumerate(hits, 1))
        prompt = self._prompts.render("llm_answer", question=extractive.question, passages=passages)
        reply = CheckedReply(hits, support, on_text, self._most)
        deadline = time.monotonic() + self._seconds
        late: list[bool] = []

        def take(piece: str) -> bool:
            if time.monotonic() >= deadline:  # the sentence it was writing is left unfinished, so unshown
                late.append(True)
                return True
            return reply.add(piece)

        try:
            self._llm.generate(prompt, take)
            if late:
                log.info("the LLM ran past CITEBOT_LLM_ANSWER_SECONDS (%g s); %s", self._seconds,
                         "keeping the sentences checked so far" if reply.shown else "answering extractively")
            else:
                reply.finish()
        except Exception as error:  # any failure of a remote service: what passed stands, else answer without it
            log.warning("the LLM failed (%s: %s); %s", error.__class__.__name__, error,
                        "keeping the sentences checked so far" if reply.shown else "answering extractively")
            if not reply.shown:
                return extractive
        if not reply.shown:
            if not reply.declined:
                log.info("no sentence of the LLM's reply is supported by its passages; answering extractively")
            return replace(extractive, sentences=_checked(reply.verdicts, {}))
        citations = tuple(citation(new, hits[old - 1], hits[old - 1].dense) for old, new in reply.numbers.items())
        return Answer(extractive.question, reply.shown, True, citations, extractive.confidence, "llm",
                      _checked(reply.verdicts, reply.numbers))


def evidence(answer: Answer, hits: list[Hit], count: int) -> list[Hit]:
    """The passages the LLM reads: those the extractive answer quotes first, then the best of the rest."""
    quoted = {cited.quote for cited in answer.citations}
    return ([hit for hit in hits if hit.chunk.text in quoted] + [hit for hit in hits if hit.chunk.text not in quoted])[:count]


def _checked(verdicts: list[Verdict], numbers: dict[int, int]) -> tuple[CheckedSentence, ...]:
    return tuple(CheckedSentence(text, tuple(numbers.get(n, 0) for n in cited), v.supported, v.alignment, v.missing,
                                 v.negation) for text, cited, v in verdicts)


def _quoted(text: str) -> str:
    """The text with no passage delimiter left in it: removing one can join its neighbours into another
    ("<<>>><END" becomes "<<<END"), so until none is left."""
    while True:
        text, removed = DELIMITER.subn("", text)
        if not removed:
            return text
