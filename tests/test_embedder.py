"""Passage and sentence vectors come back in the order the texts were given, whatever order they are encoded in."""

from __future__ import annotations

import numpy as np

TEXTS = [
    "Short one. Really short.",
    "Kazakhstan banned the DVK movement in 2005. Its leaders were sentenced. The Parliament called for their release.",
    "A middling passage about the Majilis. It hosted the delegation.",
]


def spans_of(text: str) -> list[tuple[int, int]]:
    spans, at = [], 0
    for sentence in text.split(". "):
        spans.append((at, at + len(sentence)))
        at += len(sentence) + 2
    return spans


def test_vectors_follow_the_input_order_not_the_length_order(embedder):
    passages, units = embedder.encode_with_units(TEXTS, [spans_of(t) for t in TEXTS])
    alone = embedder.encode_passages(TEXTS)
    assert np.allclose(passages, alone, atol=1e-4)  # row i is text i, though the longest was encoded first
    row = 0
    for text in TEXTS:
        own = embedder.encode_with_units([text], [spans_of(text)])[1]
        assert np.allclose(units[row : row + len(own)], own, atol=1e-4)
        row += len(own)
    assert row == len(units)
