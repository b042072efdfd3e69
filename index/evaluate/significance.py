"""How far a figure measured on a few dozen questions can be trusted: 95% intervals.

Sixty questions move "handled right" by several points with nothing changed but which
questions happened to be asked. These intervals say how much, so a comparison shows
whether a change is beyond what chance moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959964
RESAMPLES = 10_000
CHUNK = 500  # resamples per numpy pass: a few MB at a time, whatever the question count


@dataclass(frozen=True)
class Interval:
    """A figure over `count` questions, with its 95% interval."""

    value: float
    low: float
    high: float
    count: int

    @property
    def beyond_chance(self) -> bool:
        """For a difference: does the interval leave out zero?"""
        return self.low > 0 or self.high < 0

    def describe_change(self) -> str:
        verdict = ("better beyond chance" if self.low > 0 else "worse beyond chance" if self.high < 0
                   else "within what chance moves")
        return f"{self.value:+.3f} (95% interval {self.low:+.3f} to {self.high:+.3f}, {self.count} questions): {verdict}"

    def describe_share(self) -> str:
        return f"{self.value:.3f} (95% interval {self.low:.3f} to {self.high:.3f}, {self.count} questions)"


def share_interval(outcomes: Sequence[float]) -> Interval:
    """The share of right outcomes (1.0 right, 0.0 wrong) with its Wilson interval."""
    n = len(outcomes)
    if n == 0:
        raise ValueError("no outcomes to summarise")
    share = sum(outcomes) / n
    centre = (share + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 * math.sqrt(share * (1 - share) / n + Z95 ** 2 / (4 * n * n)) / (1 + Z95 ** 2 / n)
    return Interval(share, max(0.0, centre - half), min(1.0, centre + half), n)


def paired_difference(before: Sequence[float], after: Sequence[float], seed: int = 0) -> Interval:
    """After minus before on the same questions, with a bootstrap interval over the questions.

    Paired, because both versions answer the same questions: most of them come out the same,
    and only the ones that changed carry the difference.
    """
    if len(before) != len(after) or not before:
        raise ValueError("a paired difference needs the same, non-empty, questions on both sides")
    changes = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    rng = np.random.default_rng(seed)  # seeded: the same reports give the same interval
    means = np.concatenate([changes[rng.integers(0, len(changes), (CHUNK, len(changes)))].mean(axis=1)
                            for _ in range(RESAMPLES // CHUNK)])
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(float(changes.mean()), float(low), float(high), len(changes))
