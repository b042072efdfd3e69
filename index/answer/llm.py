"""Optional generative answers: an LLM turns the retrieved passages into prose, every sentence cited.

Off by default (no LLM weights exist offline). It talks to any OpenAI-compatible
endpoint through llama-index's OpenAILike: OpenAI, vLLM, llama.cpp's server, or
Ollama's /v1. The LLM is asked only when the extractive evidence clears the
not-found threshold, so abstention stays calibrated; its reply is checked: a sentence its
passages do not support (index.answer.support) is not shown, and with nothing left the extractive
answer stands. A reply without any [n] (small models often forget them) has each sentence
cited to the passage that supports it, if one does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from index.answer.prompts import Prompts
from index.schema import Answer, CheckedSentence, Citation, Hit
from index.settings import Settings
from index.answer.support import Support

log = logging.getLogger(__name__)
# Every pattern here starts at a fixed character, so parsing is linear: the lazy one before took 9 s on
# 20 KB of reply without a marker.
MARKER_RUN = re.compile(r"\[\d+\](?:\s*\[\d+\])*")
STOP_AFTER = re.compile(r"[ \t]*([.!?])")
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
NUMBER = re.compile(r"\[(\d+)\]")
MAX_DIGITS = 4  # a longer "number" is no passage of ours, and int() refuses 5,000 digits
DELIMITER = re.compile(r"<{3}|>{3}")


class LlmUnavailable(Exception):
    """The LLM option is configured but cannot be set up."""


class LlmAnswerer:
    def __init__(self, llm: Any, prompts: Prompts) -> None:
        self._llm = llm
        self._prompts = prompts

    @classmethod
    def from_settings(cls, settings: Settings, prompts: Prompts) -> LlmAnswerer:
        if settings.llm_model_path is not None:
            from index.answer.gguf import GgufLlm

            return cls(GgufLlm(settings.llm_model_path), prompts)
        if not settings.llm_model or not settings.llm_base_url:
            raise LlmUnavailable("CITEBOT_LLM_PROVIDER=openai needs CITEBOT_LLM_MODEL and CITEBOT_LLM_BASE_URL")
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError:
            raise LlmUnavailable("the LLM option needs its extra: pip install -e '.[llm]'") from None
        llm = OpenAILike(model=settings.llm_model, api_base=settings.llm_base_url,
                         api_key=settings.llm_api_key.get_secret_value() or "none", is_chat_model=True,
                         temperature=0.0, timeout=60.0, max_retries=1)
        return cls(llm, prompts)

    def answer(self, extractive: Answer, hits: list[Hit], support: SupportCheck) -> Answer:
        """The LLM's cited answer, each sentence shown only if `support` finds it in the passages it cites;
        the extractive answer when the LLM fails, says NOT FOUND (the evidence cleared the threshold: the
        model does not override it) or leaves no supported sentence."""
        # Inside delimiters the model is told are quoted data; the delimiters cannot occur in the text itself.
        passages = "\n\n".join(f"<<<PASSAGE [{n}] {_quoted(hit.doc.title)} ({hit.doc.date or 'undated'})>>>\n"
                                 f"{_quoted(hit.chunk.text)}\n<<<END OF PASSAGE [{n}]>>>" for n, hit in enumerate(hits, 1))
        prompt = self._prompts.render("llm_answer", question=extractive.question, passages=passages)
        try:
            reply = self._llm.complete(prompt).text.strip()
        except Exception as error:  # any failure of a remote service: answer without it
            log.warning("the LLM failed (%s: %s); answering extractively", error.__class__.__name__, error)
            return extractive
        declined = reply.upper().startswith("NOT FOUND")
        statements = [] if declined else cited_statements(reply, len(hits))
        verdicts = [(text, cited, support(text, [hits[n - 1] for n in cited])) for text, cited in statements]
        if not statements and not declined:
            verdicts = [_attributed(text, hits, support) for text in SENTENCE_BREAK.split(reply) if text.strip()]
        if not any(verdict.supported for _, _, verdict in verdicts):
            log.info("no sentence of the LLM's reply is supported by its passages; answering extractively")
            return replace(extractive, sentences=_checked(verdicts, {}))
        return _renumbered(extractive, verdicts, hits)


SupportCheck = Callable[[str, list[Hit]], Support]


def _attributed(text: str, hits: list[Hit], support: SupportCheck) -> tuple[str, list[int], Support]:
    """A sentence the model left uncited (small models often do), cited to the passage that supports it best;
    to the closest one, unsupported, when none does."""
    verdicts = [(n, support(text.strip(), [hit])) for n, hit in enumerate(hits, 1)]
    n, verdict = max(verdicts, key=lambda v: (v[1].supported, v[1].alignment))
    return text.strip(), [n], verdict


def _checked(verdicts: list[tuple[str, list[int], Support]], numbers: dict[int, int]) -> tuple[CheckedSentence, ...]:
    return tuple(CheckedSentence(text, tuple(numbers.get(n, 0) for n in cited), v.supported, v.alignment, v.missing,
                                 v.negation) for text, cited, v in verdicts)


def cited_statements(reply: str, passages: int) -> list[tuple[str, list[int]]]:
    """Sentences of the reply with the passage numbers they cite; uncited or mis-cited ones dropped.

    Only the sentence a marker directly follows is taken as cited by it: in
    "A [1]. B. C [2]." the uncited B is dropped, not attributed to passage 2. A stop after
    the markers ("claim [1].") ends the cited sentence.
    """
    statements, position = [], 0
    for run in MARKER_RUN.finditer(reply):
        text, end = reply[position : run.start()], run.end()
        stop = STOP_AFTER.match(reply, end)
        if stop:
            text, end = text.rstrip() + stop.group(1), stop.end()
        position = end
        numbers = [int(n) for n in NUMBER.findall(run.group()) if len(n) <= MAX_DIGITS and 1 <= int(n) <= passages]
        text = text[max(text.rfind("["), text.rfind("]")) + 1 :]  # text after a stray bracket is the sentence
        sentence = SENTENCE_BREAK.split(text.strip())[-1].strip()
        if numbers and re.search(r"\w", sentence):
            statements.append((sentence, list(dict.fromkeys(numbers))))
    return statements


def _quoted(text: str) -> str:
    return DELIMITER.sub("", text)


def _renumbered(extractive: Answer, verdicts: list[tuple[str, list[int], Support]], hits: list[Hit]) -> Answer:
    """The supported sentences, their passages numbered 1, 2, … in order of first citation."""
    numbers: dict[int, int] = {}
    parts = []
    for text, cited, verdict in verdicts:
        if verdict.supported:
            markers = "".join(f"[{numbers.setdefault(n, len(numbers) + 1)}]" for n in cited)
            parts.append(f"{text} {markers}")
    citations = tuple(
        Citation(n=new, doc_id=hits[old - 1].doc.doc_id, title=hits[old - 1].doc.title, date=hits[old - 1].doc.date,
                 source=hits[old - 1].doc.source, quote=hits[old - 1].chunk.text, score=round(hits[old - 1].dense, 4))
        for old, new in numbers.items()
    )
    return Answer(extractive.question, " ".join(parts), True, citations, extractive.confidence, "llm",
                  _checked(verdicts, numbers))
