"""A question and a passage as the reader's input: [CLS] question [SEP] window of the passage [SEP].

One module for training and answering, so the model reads at answer time exactly what it was
trained on. A passage longer than a window is read in overlapping windows; every context token
keeps its character offsets, so a span maps back to the passage's own text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_QUESTION_TOKENS = 64
MAX_ANSWER_TOKENS = 30


@dataclass(frozen=True)
class Window:
    """One input row: token ids, segment ids, and the passage offsets of its context tokens."""

    ids: tuple[int, ...]
    type_ids: tuple[int, ...]
    context_from: int  # position of the first context token
    offsets: tuple[tuple[int, int], ...]  # character span in the passage of each context token

    def token_span(self, char_start: int, char_end: int) -> tuple[int, int] | None:
        """Positions of the first and last token of the characters [char_start, char_end), if the window holds them."""
        first = next((i for i, (_, end) in enumerate(self.offsets) if end > char_start), None)
        last = next((i for i in range(len(self.offsets) - 1, -1, -1) if self.offsets[i][0] < char_end), None)
        if first is None or last is None or last < first:
            return None
        if self.offsets[first][0] > char_start or self.offsets[last][1] < char_end:
            return None  # the answer runs past this window
        return self.context_from + first, self.context_from + last


@dataclass(frozen=True)
class Spans:
    """The best span of each window, as passage character offsets, with its score and the no-answer score."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    scores: tuple[float, ...]  # start logit + end logit of the best span
    null_scores: tuple[float, ...]  # start + end logit of [CLS]: "this window does not answer"


def windows(tokenizer: Any, question: str, passage: str, max_tokens: int, overlap: int) -> list[Window]:
    """The passage in windows of at most max_tokens with the question, `overlap` tokens shared by neighbours."""
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    asked = tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
    read = tokenizer.encode(passage, add_special_tokens=False)
    room = max(8, max_tokens - len(asked) - 3)
    step = max(1, room - overlap)
    found = []
    for first in range(0, max(1, len(read.ids)), step):
        ids = read.ids[first : first + room]
        found.append(Window(ids=(cls, *asked, sep, *ids, sep), type_ids=(0,) * (len(asked) + 2) + (1,) * (len(ids) + 1),
                            context_from=len(asked) + 2, offsets=tuple(read.offsets[first : first + room])))
        if first + room >= len(read.ids):
            break
    return found


def batch_arrays(rows: list[Window]) -> dict[str, np.ndarray]:
    """The model's three inputs for rows of windows, padded to the longest."""
    width = max(len(w.ids) for w in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, window in enumerate(rows):
        ids[row, : len(window.ids)] = window.ids
        types[row, : len(window.type_ids)] = window.type_ids
        mask[row, : len(window.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def best_spans(rows: list[Window], start_logits: np.ndarray, end_logits: np.ndarray,
               quotable_from: list[int] | None = None) -> Spans:
    """Each window's best span (start ≤ end, at most MAX_ANSWER_TOKENS long, inside the context, starting at or
    after the row's `quotable_from` character: what comes before it is context to read, not text to answer with)."""
    starts, ends, scores, nulls = [], [], [], []
    for row, window in enumerate(rows):
        first, count = window.context_from, len(window.offsets)
        start = start_logits[row, first : first + count].astype(np.float64)
        end = end_logits[row, first : first + count].astype(np.float64)
        pair = start[:, None] + end[None, :]
        allowed = np.triu(np.ones((count, count), dtype=bool)) & ~np.triu(np.ones((count, count), dtype=bool),
                                                                          MAX_ANSWER_TOKENS)
        if quotable_from and quotable_from[row]:
            quotable = np.asarray([offset[0] >= quotable_from[row] for offset in window.offsets])
            if quotable.any():  # a window of context alone keeps its own spans
                allowed &= quotable[:, None]
        pair[~allowed] = -np.inf
        i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
        starts.append(window.offsets[i][0])
        ends.append(window.offsets[j][1])
        scores.append(float(pair[i, j]))
        nulls.append(float(start_logits[row, 0] + end_logits[row, 0]))
    return Spans(tuple(starts), tuple(ends), tuple(scores), tuple(nulls))
