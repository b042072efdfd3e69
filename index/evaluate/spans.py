"""SQuAD's span measures: exact match and token F1 after its normalisation, best over the gold answers."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence


def normalised(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation and ch not in "“”‘’")
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(predicted: str, answers: Sequence[str]) -> float:
    return float(any(normalised(predicted) == normalised(a) for a in answers))


def span_f1(predicted: str, answers: Sequence[str]) -> float:
    """The best token-overlap F1 of `predicted` against any gold answer (0 with none)."""
    return max((_f1(normalised(predicted).split(), normalised(a).split()) for a in answers), default=0.0)


def _f1(predicted: list[str], gold: list[str]) -> float:
    common = sum((Counter(predicted) & Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)
