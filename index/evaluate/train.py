"""Fit the answer scorer on labelled questions: `citebot train` / `make train`.

Only the development part of each labelled set is read (index.evaluate.datasets: split by
document). Gradient-boosted trees (scikit-learn) learn which candidate unit holds the
answer; they beat a logistic regression on the same features by 2-4 points of
cross-validated accuracy, and are exported as plain arrays (index.answer.scorer.Trees). Its
threshold and calibration come from cross-validation over documents: each document's
questions are scored by a model fitted without that document, so the threshold is
chosen on predictions for documents the model never saw, as in use. The final model is
then fitted on all development documents. The same data gives the same file on the same
kind of CPU; across instruction sets the vectors differ in their last bits, and so do the trees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.evaluate.datasets import DEVELOPMENT, describe, document_of, select_part
from index.evaluate.plot import calibration_bins
from index.evaluate.run import EvalItem
from index.evaluate.spans import normalised
from index.evaluate.threshold import ANSWERED_FLOOR, FLOORED, SMOOTHING, curves, handled, threshold_of
from index.answer.features import FEATURES, READS, Reads, candidates, columns_of
from index.answer.short import PassageReads
from index.answer.scorer import AnswerScorer, Calibration, Trees

if TYPE_CHECKING:
    from index.reader.model import Reader

FOLDS = 6
ASSIGNMENTS = 3  # assignments of documents to folds whose handled-right curves are averaged
TREES = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "early_stopping": False, "random_state": 0}
GOAL = ("for each labelled set, the threshold that handles the most of its development questions right (a right "
        "answer, or declined when unanswerable), answerable and unanswerable questions weighing half each (for "
        f"'{FLOORED}', among those that answer at least {ANSWERED_FLOOR} of its answerable questions); on "
        "cross-validated predictions "
        f"under {ASSIGNMENTS} assignments of documents to folds, their curves averaged, then averaged over "
        f"±{SMOOTHING}")


@dataclass(frozen=True)
class Labelled:
    """One question's candidate units: features, which hold an answer, and where it comes from."""

    dataset: str
    document: str
    answerable: bool
    features: np.ndarray
    holds_answer: np.ndarray  # one bool per unit


def holds(text: str, answers: tuple[str, ...]) -> bool:
    unit = f" {normalised(text)} "
    return any(f" {normalised(a)} " in unit for a in answers if normalised(a))


def labelled_questions(name: str, items: list[EvalItem], evidence: Callable, report_docs: frozenset[str],
                       reader: Reader | None, reads: Reads = READS) -> list[Labelled]:
    """Run each development item through retrieval, the reader (reading what `reads` names; the pipeline reads
    READS) and feature extraction; label its units."""
    rows = []
    for item in select_part(items, DEVELOPMENT, report_docs):
        question, hits = evidence(item.question)
        margins = PassageReads(reader, question.text, hits).margins(reads) if reader else None
        found, features = candidates(question, hits, margins)
        labels = np.asarray([not item.unanswerable and holds(hits[c.hit_rank].chunk.text[c.start : c.end],
                                                             item.must_contain) for c in found], dtype=bool)
        rows.append(Labelled(name, document_of(item), not item.unanswerable, features, labels))
    return rows


def fit(rows: list[Labelled], data_card: dict[str, Any],
        features: tuple[str, ...] = FEATURES) -> tuple[AnswerScorer, dict[str, Any]]:
    """The scorer reading the columns named `features`, with a calibration and threshold per labelled set from
    cross-validation over documents.

    One set's questions can be far harder to decline than another's (SQuAD's unanswerable
    questions were written to look answerable), so a threshold fitted to both serves neither.
    """
    rows = with_features(rows, features)
    calibrations, figures, tables = {}, {}, {}
    for name, judged in cross_validated(rows, ASSIGNMENTS).items():
        threshold = threshold_of(judged.curves(), ANSWERED_FLOOR if name == FLOORED else 0.0)
        calibrations[name] = Calibration(judged.slope, judged.bias, threshold)
        figures[name] = {"threshold": threshold, **{k: round(v, 4) for k, v in judged.handled(threshold).items()}}
        tables[name] = calibration_bins(judged.confidence.ravel(), judged.correct.ravel())
    card = {"goal": GOAL, "cross_validated": figures, "calibration_tables": tables, "data": data_card,
            "folds": FOLDS, "assignments": ASSIGNMENTS, "trees": TREES, "libraries": _libraries()}
    return AnswerScorer(_fit_units(rows), calibrations, card, tuple(features)), figures


def with_features(rows: list[Labelled], features: tuple[str, ...]) -> list[Labelled]:
    """The rows with only the columns named `features`, in that order: what a scorer reading them is fitted on."""
    columns = columns_of(features)
    return [replace(row, features=row.features[:, columns]) for row in rows]


@dataclass(frozen=True)
class Judged:
    """One labelled set's questions under cross-validation, one row per assignment of documents to folds: the
    calibrated confidence in each question's best unit and whether that unit answers it; the calibration (Platt,
    fitted on all assignments' scores at once) and which questions are answerable."""

    confidence: np.ndarray  # assignments × questions
    correct: np.ndarray
    answerable: np.ndarray  # questions
    slope: float
    bias: float

    def curves(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [curves(c, r, self.answerable) for c, r in zip(self.confidence, self.correct)]

    def handled(self, threshold: float) -> dict[str, float]:
        """`handled`'s figures at `threshold`, averaged over the assignments."""
        each = [handled(c, r, self.answerable, threshold) for c, r in zip(self.confidence, self.correct)]
        return {k: float(np.mean([h[k] for h in each])) for k in each[0]}


def cross_validated(rows: list[Labelled], assignments: int) -> dict[str, Judged]:
    """Each labelled set's questions judged by trees fitted without their document, under `assignments`
    assignments of documents to folds."""
    runs = [_cross_validated_top_logits(rows, assignment) for assignment in range(assignments)]
    correct = np.asarray([[r.answerable and bool(r.holds_answer[i]) if i >= 0 else False
                           for r, (_, i) in zip(rows, run)] for run in runs])
    logits = np.asarray([[logit for logit, _ in run] for run in runs])
    answerable = np.asarray([r.answerable for r in rows])
    judged = {}
    for name in sorted({r.dataset for r in rows}):
        mask = np.asarray([r.dataset == name for r in rows])
        slope, bias = _platt(logits[:, mask].ravel(), correct[:, mask].ravel())
        confidence = 1 / (1 + np.exp(-(slope * logits[:, mask] + bias)))
        judged[name] = Judged(confidence, correct[:, mask], answerable[mask], slope, bias)
    return judged


def _stack(rows: list[Labelled]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        raise ValueError("no labelled questions to fit on")
    return np.concatenate([r.features for r in rows]), np.concatenate([r.holds_answer for r in rows])


def _fit_units(rows: list[Labelled]) -> Trees:
    """Trees scoring each unit; checked to give scikit-learn's own scores before they are used."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    features, labels = _stack(rows)
    if labels.all() or not labels.any():
        raise ValueError("the labelled units are all of one class; more labelled questions are needed")
    # One thread: scikit-learn sums gradient histograms in parallel, so the rounding, and with it a tied
    # split, changed from run to run; the same data must give the same model file.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(**TREES).fit(features, labels)
    trees = export_trees(model)
    if not np.allclose(trees.raw(features), model.decision_function(features), atol=1e-6):
        raise RuntimeError("the exported trees disagree with scikit-learn's; this scikit-learn is not supported")
    return trees


def export_trees(model: Any) -> Trees:
    """The fitted trees as arrays. scikit-learn keeps them in `_predictors`; the check above guards that."""
    parts, roots, offset = [], [], 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        roots.append(offset)
        leaf = nodes["is_leaf"].astype(bool)
        parts.append((nodes["feature_idx"], nodes["num_threshold"], np.where(leaf, 0, nodes["left"] + offset),
                      np.where(leaf, 0, nodes["right"] + offset), nodes["value"], leaf))
        offset += len(nodes)
    feature, threshold, left, right, value, leaf = (np.concatenate(column) for column in zip(*parts))
    return Trees(feature.astype(np.int64), threshold.astype(np.float64), left.astype(np.int64),
                 right.astype(np.int64), value.astype(np.float64), leaf, np.asarray(roots, dtype=np.int64),
                 float(np.ravel(model._baseline_prediction)[0]))


def _cross_validated_top_logits(rows: list[Labelled], assignment: int = 0) -> list[tuple[float, int]]:
    """For each question, (best unit's score, its index) under a model fitted without its document."""
    return [_best_unit(logits) for logits in _cross_validated_unit_logits(rows, assignment)]


def _best_unit(logits: np.ndarray) -> tuple[float, int]:
    """(score, index) of the best unit; a question with no units has none."""
    if not len(logits):
        return -50.0, -1
    best = int(np.argmax(logits))
    return float(logits[best]), best


def _cross_validated_unit_logits(rows: list[Labelled], assignment: int = 0) -> list[np.ndarray]:
    """Each question's unit scores under a model fitted without its document.

    Documents go to folds in sorted order; another `assignment` shuffles them first (bench/threshold_rules.py)."""
    documents = sorted({r.document for r in rows})
    if assignment:
        documents = [documents[i] for i in np.random.RandomState(assignment).permutation(len(documents))]
    fold_of = {doc: i % FOLDS for i, doc in enumerate(documents)}
    result: list[np.ndarray] = [np.zeros(0)] * len(rows)
    for fold in range(min(FOLDS, len(documents))):
        trees = _fit_units([r for r in rows if fold_of[r.document] != fold])
        for at, row in enumerate(rows):
            if fold_of[row.document] == fold and len(row.features):
                result[at] = trees.raw(row.features)
    return result


def _platt(logits: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6, max_iter=5000).fit(logits.reshape(-1, 1), correct)
    return float(model.coef_[0][0]), float(model.intercept_[0])


def data_card(sets: dict[str, list[EvalItem]], report_docs: frozenset[str], index_meta: dict[str, Any],
              reader: Reader | None, reads: Reads = READS) -> dict[str, Any]:
    """What the model was fitted on; `index`, `reader` and `reads` are what make its features stale when they
    change (the splitter's version, the chunk sizes, the term rules, the embedding model; the reader's weights;
    which passages it reads, and how): the shipped model is tested against each."""
    return {"split": "by document; the report part (eval/splits.json) is never read here",
            "index": index_meta,
            "reader": reader.identity() if reader is not None else None,
            "reads": asdict(reads) if reader is not None else None,
            "report_documents": sorted(report_docs),
            "sets": {name: describe(select_part(items, DEVELOPMENT, report_docs)) for name, items in sets.items()}}


def _libraries() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("scikit-learn", "numpy")}


def write_model(scorer: AnswerScorer, path: Path) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scorer.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
