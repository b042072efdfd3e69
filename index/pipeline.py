"""Question in, cited answer out: the one path every front end (CLI, chat, Telegram, eval) uses."""

from __future__ import annotations

import re

from index.answer import compose
from index.build import expected_meta
from index.embedder import Embedder
from index.prompts import Prompts, load_prompts
from index.retrieve import retrieve
from index.schema import Answer, Hit
from index.settings import Settings
from index.store import IndexStore

MAX_QUESTION_CHARS = 1000  # MiniLM reads 256 word pieces; longer questions only cost time


class EmptyQuestion(ValueError):
    """The question has no words in it."""


class Pipeline:
    """Holds the loaded model, index and templates; `ask` is safe to call from many threads."""

    def __init__(self, settings: Settings, embedder: Embedder, store: IndexStore, prompts: Prompts) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.prompts = prompts

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Pipeline:
        """Load the index first, so a missing or stale one is reported before the slow model load."""
        store = IndexStore.load(settings.index_dir, expected_meta(settings))
        prompts = load_prompts(settings.prompts_dir)
        embedder = embedder or Embedder(settings.embed_model, settings.embed_batch_size)
        return cls(settings, embedder, store, prompts)

    def search(self, question: str) -> list[Hit]:
        question = normalise_question(question)
        return self._search(question, self._weights(question))

    def ask(self, question: str) -> Answer:
        question = normalise_question(question)
        weights = self._weights(question)
        hits = self._search(question, weights)
        not_found = self.prompts.render("not_found", question=question)
        return compose(question, weights, hits, self.settings.min_confidence, self.settings.answer_sentences,
                       not_found)

    def _weights(self, question: str) -> dict[str, float]:
        return self.store.lexical.query_weights(question, self.embedder.is_common_word)

    def _search(self, question: str, weights: dict[str, float]) -> list[Hit]:
        vector = self.embedder.encode_query(question)
        s = self.settings
        return retrieve(weights, vector, self.store, s.candidates, s.rrf_k, s.top_k)


def normalise_question(question: str) -> str:
    """Collapse whitespace and cap the length; refuse a question with no words."""
    text = re.sub(r"\s+", " ", question).strip()[:MAX_QUESTION_CHARS]
    if not re.search(r"\w", text):
        raise EmptyQuestion("the question is empty; ask something about the documents")
    return text
