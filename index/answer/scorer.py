"""The learned answer scorer: gradient-boosted trees over index.answer.features, read from a JSON file.

`citebot train` writes the file: the names of the features it reads, the trees as plain
arrays, a calibration that turns the best unit's score into the probability that it
answers the question, the threshold under which the answer is "not found", and a card
saying what it was fitted on. The scorer takes its columns by name, so a model fitted
without the reader's features (`citebot train --no-reader`) still reads rows that have
them. Loading checks all of it against the code, so a model made for features this code
does not compute is refused, never silently misread. No pickles: a model is plain numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from index.answer.features import FEATURES, READER_FEATURES, columns_of

FORMAT = "citebot-answer-scorer/2"
TREE_FIELDS = ("feature", "threshold", "left", "right", "value", "leaf")
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "answer_scorer.json"


class ScorerError(Exception):
    """The answer model file is missing, damaged or made for other features."""


@dataclass(frozen=True)
class Trees:
    """Every tree's nodes in one set of arrays; node indices are global, `roots` says where each tree starts."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    roots: np.ndarray
    baseline: float

    def raw(self, features: np.ndarray) -> np.ndarray:
        """Sum of the trees' leaf values per row: all trees walked at once, one level per step."""
        rows = np.arange(len(features))[:, None]
        node = np.broadcast_to(self.roots, (len(features), len(self.roots))).copy()
        while not (done := self.leaf[node]).all():
            left = features[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(done, node, np.where(left, self.left[node], self.right[node]))
        return self.value[node].sum(axis=1) + self.baseline

    def to_json(self) -> dict[str, Any]:
        return {**{name: getattr(self, name).tolist() for name in TREE_FIELDS},
                "roots": self.roots.tolist(), "baseline": self.baseline}

    @classmethod
    def from_json(cls, data: dict[str, Any], features: int) -> Trees:
        """The trees of a model reading `features` columns; checked to stay inside their arrays."""
        arrays = {name: np.asarray(data[name]) for name in TREE_FIELDS}
        trees = cls(arrays["feature"].astype(np.int64), arrays["threshold"].astype(np.float64),
                    arrays["left"].astype(np.int64), arrays["right"].astype(np.int64),
                    arrays["value"].astype(np.float64), arrays["leaf"].astype(bool),
                    np.asarray(data["roots"], dtype=np.int64), float(data["baseline"]))
        nodes = len(trees.feature)
        inner = ~trees.leaf
        if any(len(a) != nodes for a in arrays.values()) or not len(trees.roots) \
                or not np.isfinite(trees.threshold).all() or not np.isfinite(trees.value).all() \
                or ((trees.feature < 0) | (trees.feature >= features))[inner].any() \
                or ((trees.left <= np.arange(nodes)) | (trees.left >= nodes))[inner].any() \
                or ((trees.right <= np.arange(nodes)) | (trees.right >= nodes))[inner].any() \
                or ((trees.roots < 0) | (trees.roots >= nodes)).any():
            raise ValueError("tree arrays out of shape or range")
        return trees


@dataclass(frozen=True)
class Calibration:
    """Turns a unit's score into the probability that it answers rightly, for one kind of corpus and question."""

    slope: float
    bias: float
    threshold: float  # calibrated confidence under which the answer is "not found"

    def confidence(self, logit: float) -> float:
        z = min(max(self.slope * logit + self.bias, -700.0), 700.0)  # math.exp overflows past about 709
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class AnswerScorer:
    trees: Trees
    calibrations: dict[str, Calibration]  # by labelled set: "corpus" is the owner's own eval/qa.jsonl
    card: dict[str, Any]
    features: tuple[str, ...]  # the columns the trees read, by name, in their order

    @cached_property
    def _columns(self) -> list[int]:
        """Where the trees' features stand in a row of FEATURES."""
        return columns_of(self.features)

    @property
    def needs_reader(self) -> bool:
        """Whether the span reader must read the passages before the units can be scored."""
        return bool(set(self.features) & set(READER_FEATURES))

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> AnswerScorer:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ScorerError(f"cannot read the answer model {path} ({error}); run `citebot train`") from None
        return cls.from_json(data, path)

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path | str = "answer model") -> AnswerScorer:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ScorerError(f"{path} is not a {FORMAT} file; run `citebot train`")
        features = data.get("features")
        if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features) \
                or not set(features) <= set(FEATURES) \
                or len(set(features)) != len(features):
            raise ScorerError(f"{path} was fitted on other features than this citebot computes; run `citebot train`")
        try:
            trees = Trees.from_json(data["trees"], len(features))
            calibrations = {str(name): Calibration(*(float(c[k]) for k in ("slope", "bias", "threshold")))
                            for name, c in data["calibrations"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ScorerError(f"{path} is damaged ({error}); run `citebot train`") from None
        if not calibrations or not all(math.isfinite(c.slope) and math.isfinite(c.bias) and 0 <= c.threshold <= 1
                                       for c in calibrations.values()):
            raise ScorerError(f"{path} is damaged (calibration or threshold); run `citebot train`")
        return cls(trees, calibrations, data.get("card", {}), tuple(features))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "features": list(self.features), "trees": self.trees.to_json(),
                "calibrations": {name: vars(c) for name, c in self.calibrations.items()}, "card": self.card}

    def calibration(self, name: str) -> Calibration:
        if name not in self.calibrations:
            raise ScorerError(f"the answer model has no calibration {name!r}; it has {', '.join(self.calibrations)}")
        return self.calibrations[name]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """One score per unit (rows of FEATURES): the higher, the likelier the unit holds the answer."""
        return self.trees.raw(np.nan_to_num(features[:, self._columns]))
