"""BM25 search sums the library's own scores: same passages, same scores as bm25s.retrieve, best first."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT
from index.store.lexical import LexicalIndex, terms
from index.store.files import current_version

QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "eval/qa.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def lexical(built_index):
    return LexicalIndex.load(current_version(built_index) / "bm25")


@pytest.mark.parametrize("k", [3, 30])
def test_search_ranks_as_bm25s_scores(lexical, k):
    compared = 0
    for question in QUESTIONS:
        known = [t for t in terms(question) if t in lexical._vocab]
        if not known:
            continue
        ours = lexical.search(terms(question), k)
        rows, scores = lexical._bm25.retrieve([known], k=min(k, len(lexical._chunk_ids)), show_progress=False)
        theirs = {int(lexical._chunk_ids[r]): float(s) for r, s in zip(rows[0], scores[0]) if s > 0}
        assert [s for _, s in ours] == sorted((s for _, s in ours), reverse=True)
        assert len(ours) == len(theirs)
        assert all(abs(a - b) < 1e-4 for a, b in zip(sorted(s for _, s in ours), sorted(theirs.values())))
        assert all(abs(theirs.get(i, s) - s) < 1e-4 for i, s in ours)  # ties may differ in which id is kept
        compared += 1
    assert compared > 60


def test_unknown_terms_find_nothing(lexical):
    assert lexical.search(["zzzunknownterm"], 5) == []
    assert lexical.search([], 5) == []


def test_a_question_of_made_up_words_corrects_only_a_few_of_them(monkeypatch):
    import difflib
    import random
    import string

    from index.store import lexical
    from index.store.lexical import MAX_CORRECTIONS, TermStatistics

    rng = random.Random(0)
    vocabulary = {"".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 12))): 3
                  for _ in range(300_000)}
    vocabulary["bokayev"] = 2
    compared = []
    real = difflib.get_close_matches
    monkeypatch.setattr(lexical.difflib, "get_close_matches",
                        lambda word, *args, **kwargs: compared.append(word) or real(word, *args, **kwargs))
    stats = TermStatistics(vocabulary, 100_000)
    made_up = " ".join("".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(8)) for _ in range(110))[:1000]
    weights = stats.query_weights("why is bokaev in prison " + made_up, lambda word: False)
    assert "bokayev" in weights  # the first unknown words are still read as misspellings
    assert len(compared) == MAX_CORRECTIONS  # not one comparison with the vocabulary per made-up word
    assert len(weights) > 100  # the rest weigh as names the corpus lacks
