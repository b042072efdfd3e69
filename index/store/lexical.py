"""BM25 over stemmed words (bm25s), and the term statistics the answer composer weighs sentences with."""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

WORD = re.compile(r"\w+")
LEXICAL_VERSION = "snowball-en/stopwords-en-plus/1"  # change when terms() would split text differently
# "bokaev" finds "bokayev" (0.92) and "kazakstan" "kazakhstan" (0.95), while real words stay
# apart: "spend"/"suspend" 0.83, "bread"/"broad" 0.8, and "treat"/"treati" (treaty) is a prefix.
SPELLING_CUTOFF = 0.85
# Each correction compares the word with every corpus term of its initial: at 300,000 terms a 1,000-character
# question of made-up words took 1.74 s. A question with more unknown words than this is not misspelt but
# about names the corpus lacks; the rest count as such.
MAX_CORRECTIONS = 4
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults, written down so the PostgreSQL store scores alike
UNKNOWN_WORD_WEIGHT = 1.0  # about the IDF of a word in a third of the passages
# Chat-style questions shorten: "kz" for Kazakhstan. A short unknown token is read as the most
# frequent corpus term that starts with its first letter and holds its other letters in order,
# among terms in at least this share of passages; otherwise it is weak evidence, not a strong name.
SHORT_TOKEN = 3
ABBREVIATED_TERM_SHARE = 0.05
# Question words carry no topic; without them "why is X in prison" matches on X and prison.
# So do the verbs that frame a question ("what happened at X", "what did they say about X"),
# and particles ("locked up").
QUESTION_WORDS = frozenset(
    "what when where which who whom whose why how many much did does do tell please happen happened happens "
    "say said says know explain describe mean means up down out off over".split()
)


@lru_cache(maxsize=1)
def _bm25s():
    import bm25s

    # bm25s sets its logger to DEBUG on import, which would print under any root configuration.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | QUESTION_WORDS


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def content_words(text: str) -> list[str]:
    """Lower-cased words, stopwords and single letters dropped."""
    return [w for w in WORD.findall(text.lower()) if w not in _stopwords() and (len(w) > 1 or w.isdigit())]


def _is_clitic_form(word: str) -> bool:
    """ "whats", "whos", "dont": a stopword with its apostrophe dropped, as people type in chats."""
    stopwords = _stopwords()
    return word not in stopwords and (word[:-1] in stopwords and word.endswith("s")
                                      or word.endswith("nt") and (word[:-2] in stopwords or word[:-1] in stopwords))


def terms(text: str) -> list[str]:
    """Stemmed content words: "Prisoners" and "prisoner" meet, "the" is dropped."""
    return [_stem(w) for w in content_words(text)]


def passage_terms(text: str) -> list[str]:
    """A passage's terms as BM25 counts them; bm25s needs a token in every document."""
    return terms(text) or ["\u2205"]


class TermStatistics:
    """Document frequencies over the passages, and what they tell about a question's words."""

    def __init__(self, doc_freq: dict[str, int], passages: int) -> None:
        self._doc_freq = doc_freq
        self._passages = passages
        self._by_initial: dict[str, list[str]] | None = None  # spelling candidates, built on first need
        self._frequent_by_initial: dict[str, list[str]] | None = None  # what a chat abbreviation may stand for

    def query_weights(self, question: str, is_common_word: Callable[[str], bool]) -> dict[str, float]:
        """The question's terms with their weight as evidence.

        A term the corpus uses weighs its IDF. An unknown term that is not a common word
        is a misspelt name ("bokaev") when a close corpus term exists, and otherwise a name
        the corpus never mentions: strong evidence the corpus cannot answer. An unknown
        common word ("jail" where the text says "prison") is only a weak signal either way.
        """
        weights: dict[str, float] = {}
        words = [word for word in content_words(question) if not _is_clitic_form(word)]
        corrections = MAX_CORRECTIONS
        for word in words:
            stem = _stem(word)
            common = is_common_word(word) or is_common_word(stem)  # "invests" is not listed, "invest" is
            # A lone short word is as likely chat ("hi", "ok") as an abbreviation: "hi" read as "high" drew an answer.
            if stem not in self._doc_freq and len(word) <= SHORT_TOKEN and word.isalpha() and len(words) > 1:
                stem, common = self._expanded(word) or stem, True
            if stem not in self._doc_freq and not common and corrections > 0:
                corrections -= 1
                stem = self._closest(stem) or stem
            if stem in self._doc_freq or not common:
                weights[stem] = self.idf(stem)
            else:
                weights[stem] = UNKNOWN_WORD_WEIGHT
        return weights

    def _expanded(self, short: str) -> str | None:
        """The frequent corpus term a chat abbreviation stands for ("kz" → "kazakhstan"), if one does."""
        if self._frequent_by_initial is None:  # a few hundred terms: not the whole vocabulary on every question
            floor = ABBREVIATED_TERM_SHARE * self._passages
            self._frequent_by_initial = {}
            for term, df in self._doc_freq.items():
                if df >= floor:
                    self._frequent_by_initial.setdefault(term[:1], []).append(term)
        pattern = re.compile(".*".join(map(re.escape, short)))
        found = [t for t in self._frequent_by_initial.get(short[:1], ())
                 if len(t) >= 2 * len(short) and pattern.match(t)]
        return max(found, key=lambda t: (self._doc_freq[t], t), default=None)

    def _closest(self, term: str) -> str | None:
        if len(term) < 5 or term.isdigit():
            return None
        if self._by_initial is None:
            self._by_initial = {}
            for known in self._doc_freq:
                self._by_initial.setdefault(known[:1], []).append(known)
        candidates = [c for c in self._by_initial.get(term[:1], ()) if abs(len(c) - len(term)) <= 2]
        matches = difflib.get_close_matches(term, candidates, n=3, cutoff=SPELLING_CUTOFF)
        return next((m for m in matches if not (m.startswith(term) or term.startswith(m))), None)

    def knows(self, term: str) -> bool:
        """Does any passage use the term?"""
        return term in self._doc_freq

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term the corpus never uses weighs most."""
        n = self._passages
        df = self._doc_freq.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


class LexicalIndex(TermStatistics):
    """BM25 over chunks (bm25s), addressed by chunk id."""

    def __init__(self, bm25, chunk_ids: np.ndarray, doc_freq: dict[str, int]) -> None:
        super().__init__(doc_freq, len(chunk_ids))
        self._bm25 = bm25
        self._chunk_ids = chunk_ids
        self._vocab = bm25.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], chunk_ids: Sequence[int]) -> LexicalIndex:
        bm25s = _bm25s()
        tokenized = [passage_terms(t) for t in texts]
        bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        bm25.index(tokenized, show_progress=False)
        doc_freq = Counter(term for tokens in tokenized for term in set(tokens))
        return cls(bm25, np.asarray(chunk_ids, dtype=np.int64), dict(doc_freq))

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)
        np.save(folder / "chunk_ids.npy", self._chunk_ids)
        (folder / "doc_freq.json").write_text(json.dumps(self._doc_freq), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        # Memory-mapped: at a million passages the score matrix is hundreds of MB, read only where queried.
        bm25 = _bm25s().BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0)
        doc_freq = json.loads((folder / "doc_freq.json").read_text(encoding="utf-8"))
        return cls(bm25, np.load(folder / "chunk_ids.npy"), doc_freq)

    def search(self, query_terms: Iterable[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the best `k` chunks sharing a term with the query."""
        token_ids = [self._vocab[t] for t in dict.fromkeys(query_terms) if t in self._vocab]
        if not token_ids or not len(self._chunk_ids):
            return []
        # bm25s's own retrieve adds posting lists with np.add.at: 50 ms at a million passages.
        # One bincount over the query terms' precomputed scores does the same sum in a few.
        matrix = self._bm25.scores
        indices, data, indptr = matrix["indices"], matrix["data"], matrix["indptr"]
        rows = np.concatenate([indices[indptr[t] : indptr[t + 1]] for t in token_ids])
        if not len(rows):
            return []
        scores = np.bincount(rows, weights=np.concatenate([data[indptr[t] : indptr[t + 1]] for t in token_ids]),
                             minlength=len(self._chunk_ids))
        matched = np.flatnonzero(scores > 0)
        if len(matched) > k:
            matched = matched[np.argpartition(-scores[matched], k - 1)[:k]]
        best = sorted(matched.tolist(), key=lambda row: (-scores[row], row))
        return [(int(self._chunk_ids[row]), float(scores[row])) for row in best]
