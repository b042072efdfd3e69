"""Question in, cited answer out: the one path every front end (CLI, chat, Telegram, eval) uses."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from index.answer.compose import Reading, compose
from index.evaluate.calibrate import read as owner_threshold
from index.ingest.chunking import embedding_text
from index.answer.support import Support, check as check_support
from index.answer.answer_type import type_noun
from index.answer.features import Question
from index.store.lexical import terms
from index.answer.llm import LlmAnswerer, evidence as llm_evidence
from index.ingest.build import expected_meta
from index.embed.encoders import Encoder, open_encoder
from index.answer.prompts import Prompts, load_prompts
from index.answer.retrieve import retrieve
from index.reader.model import Reader
from index.schema import Answer, Hit
from index.answer.scorer import AnswerScorer, ScorerError
from index.settings import Settings
from index.store import SearchView, Store, open_store

log = logging.getLogger(__name__)
SURROGATE = re.compile("[\ud800-\udfff]")
MAX_QUESTION_CHARS = 1000  # MiniLM reads 256 word pieces; longer questions only cost time
TYPE_NOUN_WEIGHT = 0.5  # "which country ..." asks for a country; the word itself need not appear
FOLLOW_UP_WEIGHT = 0.5  # the previous question's terms count, but less than the new question's
FOLLOW_UP_START = re.compile(r"^(and|but|also|so|what about|how about|then)\b", re.IGNORECASE)
REFERRING_WORDS = frozenset("he she him her his hers they them their it its this that these those there".split())


class EmptyQuestion(ValueError):
    """The question has no words in it."""


class Pipeline:
    """Holds the loaded model, index and templates; `ask` is safe to call from many threads."""

    def __init__(self, settings: Settings, embedder: Encoder, store: Store, prompts: Prompts,
                 scorer: AnswerScorer | None, generator: LlmAnswerer | None = None,
                 reader: Reader | None = None, answer_reader: Reader | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.prompts = prompts
        self.scorer = scorer  # None only while training one: `evidence` works, `ask` does not
        self.calibration = scorer.calibration(settings.calibration) if scorer is not None else None
        owner = owner_threshold(settings.index_dir)  # `citebot eval --calibrate` on the owner's own questions
        self.min_confidence = settings.min_confidence if settings.min_confidence is not None else owner \
            if owner is not None else self.calibration.threshold if self.calibration is not None else 0.5
        self.generator = generator  # the optional LLM; None answers extractively
        if scorer is not None and scorer.needs_reader and answer_reader is None:
            raise ScorerError("the answer model weighs the answer reader's margins, and no reader is loaded")
        # Off, the answer model's reader still reads for its margins, but no short answer is shown.
        span_reader = reader if reader is not None and settings.reader else None
        self.reading = Reading(span_reader or answer_reader, settings.reader_passages, self.min_confidence,
                               span_reader is not None, answer_reader) \
            if span_reader is not None or answer_reader is not None else None
        # The LLM words only answers a user would get; the eval lowers min_confidence to see every answer.
        self.llm_min_confidence = self.min_confidence
        self._reload_lock = threading.Lock()
        self._refused: str | None = None  # a published version that failed to load
        self._last_sentence: tuple[str, Any] = ("", None)  # the LLM sentence last checked, and its vector

    def refresh(self) -> Store:
        """The current index version, loading it first if a rebuild published a new one.

        A question takes the store once and keeps it, so one in flight during a switch is
        answered wholly from the old version or wholly from the new.
        """
        published = self.store.published()
        if published is None or published in (self.store.version, self._refused):
            return self.store
        with self._reload_lock:
            if published not in (self.store.version, self._refused):
                try:
                    self.store = open_store(self.settings, expected_meta(self.settings))
                    log.info("now serving index version %s", self.store.version)
                except Exception as error:  # noqa: BLE001 - whatever a bad version raises, the good one serves on
                    self._refused = published  # not read again on every question
                    log.warning("keeping index version %s: the new one cannot be served (%s)",
                                self.store.version, error)
        return self.store

    @classmethod
    def open(cls, settings: Settings, embedder: Encoder | None = None) -> Pipeline:
        """Load the index first, so a missing or stale one is reported before the slow model load."""
        store = open_store(settings, expected_meta(settings))
        prompts = load_prompts(settings.prompts_dir)
        scorer = AnswerScorer.load(settings.answer_model)
        wants_llm = settings.llm_provider == "openai" or settings.llm_model_path is not None
        generator = LlmAnswerer.from_settings(settings, prompts) if wants_llm else None
        same = scorer.needs_reader and settings.answer_reader_model.resolve() == settings.reader_model.resolve()
        # ONNX Runtime builds a session outside the GIL, so the models load side by side (README: a cold `ask`
        # took 1.39 s one after another, 1.10 s so).
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="citebot-load") as pool:
            encoder = pool.submit(open_encoder, settings) if embedder is None else None
            answering = pool.submit(Reader.load, settings.answer_reader_model) if scorer.needs_reader else None
            spans = pool.submit(Reader.load, settings.reader_model) if settings.reader and not same else None
        answer_reader = answering.result() if answering is not None else None
        reader = (answer_reader if same else spans.result()) if settings.reader else None
        return cls(settings, embedder or encoder.result(), store, prompts, scorer, generator, reader, answer_reader)

    def search(self, question: str) -> list[Hit]:
        question = normalise_question(question)
        with self.refresh().snapshot() as view:
            return self._search(view, question, self._weights(view, question))

    def ask(self, question: str, previous: str | None = None, on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer `question`; `previous`, the question before it, gives a follow-up its subject.

        With an LLM, `on_text` gets the answer's checked text so far each time a sentence passes the check.
        """
        return self.ask_traced(question, previous, on_text)[0]

    def ask_traced(self, question: str, previous: str | None = None, on_text: Callable[[str], None] | None = None,
                   min_confidence: float | None = None) -> tuple[Answer, list[Hit]]:
        """The answer and the passages retrieved for it, in rank order (for evaluation); `min_confidence`
        overrides the pipeline's threshold for this question alone."""
        if self.scorer is None:
            raise ScorerError("no answer model is loaded; run `citebot train`")
        asked, hits = self.evidence(question, previous)
        not_found = self.prompts.render("not_found", question=asked.text)
        threshold = self.min_confidence if min_confidence is None else min_confidence
        answer = compose(asked, hits, self.scorer, self.calibration, threshold, self.settings.answer_sentences,
                         not_found, self.reading, self.settings.nearest_min_confidence)
        if answer.found and self.generator is not None and answer.confidence >= self.llm_min_confidence:
            # the evidence suffices: let the LLM word it
            answer = self.generator.answer(answer, llm_evidence(answer, hits, self.settings.llm_passages), self.support,
                                           on_text)
        return answer, hits

    @contextmanager
    def without_llm(self) -> Iterator[Pipeline]:
        """Answer extractively inside the block (the eval's and the benchmark's comparison; not for a serving
        pipeline, whose other threads would see it too)."""
        generator, self.generator = self.generator, None
        try:
            yield self
        finally:
            self.generator = generator

    def support(self, sentence: str, cited: list[Hit]) -> Support:
        """Do the cited passages say what `sentence` says (index.answer.support)?"""
        store = self.store
        last = self._last_sentence  # one tuple, read once: safe beside other threads
        vector = last[1] if last[0] == sentence else self.embedder.encode_query(sentence)
        self._last_sentence = (sentence, vector)  # a sentence without [n] is checked against each passage in turn
        units, cosines = [], []
        for hit in cited:
            units += [hit.chunk.text[a:b] for a, b in hit.chunk.sentences]
            cosines += store.unit_cosines(vector, hit.chunk)
        passages = [embedding_text(hit.doc.title, hit.chunk.text) for hit in cited]  # the title states facts too
        return check_support(sentence, passages, units, cosines, store.lexical.idf)

    def evidence(self, question: str, previous: str | None = None) -> tuple[Question, list[Hit]]:
        """The question with its term weights, and the passages retrieved for it (what the scorer reads)."""
        question = normalise_question(question)
        with self.refresh().snapshot() as view:  # PostgreSQL: one transaction, so a rebuild is seen whole or not
            weights = self._weights(view, question)
            search_text = question
            if previous:
                for term, weight in self._weights(view, previous).items():
                    weights.setdefault(term, weight * FOLLOW_UP_WEIGHT)
                search_text = f"{previous} {question}"
            hits = self._search(view, search_text, weights)
            unknown = frozenset(t for t in weights if not view.lexical.knows(t))
        return Question(question, weights, unknown), hits

    def _weights(self, store: SearchView, question: str) -> dict[str, float]:
        weights = store.lexical.query_weights(question, self.embedder.is_common_word)
        noun = type_noun(question)
        for term in terms(noun) if noun else ():
            if term in weights:
                weights[term] *= TYPE_NOUN_WEIGHT
        return weights

    def _search(self, store: SearchView, question: str, weights: dict[str, float]) -> list[Hit]:
        vector = self.embedder.encode_query(question)
        s = self.settings
        return retrieve(weights, vector, store, s.candidates, s.rrf_k, s.top_k)


def normalise_question(question: str) -> str:
    """Collapse whitespace, drop what is not text, cap the length; refuse a question with no words."""
    # A lone surrogate (from a broken client, or a forged update) is not text; the tokenizer raised on it.
    question = SURROGATE.sub("", question)
    text = re.sub(r"\s+", " ", question).strip()[:MAX_QUESTION_CHARS]
    if not re.search(r"\w", text):
        raise EmptyQuestion("the question is empty; ask something about the documents")
    return text


def is_follow_up(question: str) -> bool:
    """Does the question lean on the one before ("and when was he sentenced?")?"""
    words = re.findall(r"[a-z']+", question.lower())
    return bool(FOLLOW_UP_START.match(question.strip())) or (len(words) <= 12 and bool(REFERRING_WORDS & set(words)))
