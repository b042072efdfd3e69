"""How steady the answer model's threshold is, and what a smoother rule would give: development data only.

The shipped rule (index.evaluate.threshold.best_threshold) takes the peak of the handled-right
curve over thresholds, averaged over ±0.05, on cross-validated predictions. On the corpus's
hundred development questions that curve is flat and jagged. The alternative measured here
reads the same goal (each kind of question weighing half) off two logistic fits of the best
unit's score: P(right answer | score) and P(unanswerable | score), answerable questions
weighing 1/n_a and unanswerable ones 1/n_u; the threshold is where they cross.

Printed, for each labelled set:
- the threshold each rule picks under several assignments of documents to folds (each a refit
  of the cross-validated trees), with balanced handled right at it;
- that curve averaged over the assignments, which shows how flat it is;
- the same with each unit's score averaged over several assignments (repeated cross-validation),
  for disjoint groups of them: whether the threshold then stays put;
- the issue's examples, asked of the bundled corpus: the shipped model's confidence under its
  own calibration and under each of those steadier ones, and whether each is handled right;
- over bootstrap samples of the questions (one assignment): each rule's threshold chosen on
  the sample, judged on the questions left out of it, and the paired change.

Nothing is fitted or chosen on the report part's questions.

    .venv/bin/python bench/threshold_rules.py   (about 12 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.train_command import SQUAD  # noqa: E402
from index.evaluate.threshold import GRID, best_threshold, handled  # noqa: E402
from index.evaluate.train import _best_unit, _cross_validated_unit_logits, _platt  # noqa: E402
from index.settings import Settings  # noqa: E402


def crossing_threshold(logits: np.ndarray, correct: np.ndarray, answerable: np.ndarray,
                       platt: tuple[float, float]) -> float:
    """Where answering becomes likelier right than declining, each kind of question weighing half."""
    from sklearn.linear_model import LogisticRegression

    if not correct.any():
        return 1.0
    if answerable.all():
        return 0.0
    weights = np.where(answerable, 0.5 / answerable.sum(), 0.5 / (~answerable).sum()) * len(answerable)
    fits = [LogisticRegression(C=1e6, max_iter=5000).fit(logits.reshape(-1, 1), target, sample_weight=weights)
            for target in (correct, ~answerable)]
    (rise, at), (fall, at_unanswerable) = ((float(f.coef_[0][0]), float(f.intercept_[0])) for f in fits)
    if rise <= fall:
        return 1.0
    slope, bias = platt
    return round(float(1 / (1 + np.exp(-(slope * (at_unanswerable - at) / (rise - fall) + bias)))), 2)


def per_set(rows: list, top: list[tuple[float, int]], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    picked = [i for i, r in enumerate(rows) if r.dataset == name]
    logits = np.asarray([top[i][0] for i in picked])
    correct = np.asarray([rows[i].answerable and top[i][1] >= 0 and bool(rows[i].holds_answer[top[i][1]])
                          for i in picked])
    return logits, correct, np.asarray([rows[i].answerable for i in picked])


def both_rules(logits: np.ndarray, correct: np.ndarray,
               answerable: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """(peak rule's threshold, crossing rule's), and the calibration (Platt slope, bias) both apply to."""
    platt = _platt(logits, correct)
    return ((best_threshold(calibrated(logits, platt), correct, answerable),
             crossing_threshold(logits, correct, answerable, platt)), platt)


def calibrated(logits: np.ndarray, platt: tuple[float, float]) -> np.ndarray:
    return 1 / (1 + np.exp(-(platt[0] * logits + platt[1])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", type=int, default=15, help="assignments of documents to folds")
    parser.add_argument("--ensemble", type=int, default=5,
                        help="assignments whose predictions are averaged in each repeated cross-validation")
    parser.add_argument("--samples", type=int, default=300, help="bootstrap samples of each set's questions")
    args = parser.parse_args(argv)
    from bot.train_command import labelled_rows
    from index.reader.model import Reader

    settings = Settings()
    rows, _, _ = labelled_rows(argparse.Namespace(items=ROOT / "eval" / "qa.jsonl", squad=ROOT / SQUAD, splits=None),
                               settings, Reader.load(settings.answer_reader_model))
    names = sorted({r.dataset for r in rows})
    first = None
    curves: dict[str, list[np.ndarray]] = {name: [] for name in names}
    unit_logits = []
    print("fold assignment: threshold -> balanced handled right, peak rule | crossing rule")
    for assignment in range(args.assignments):
        unit_logits.append(_cross_validated_unit_logits(rows, assignment))
        top = [_best_unit(logits) for logits in unit_logits[-1]]
        first = first or top
        cells = []
        for name in names:
            logits, correct, answerable = per_set(rows, top, name)
            thresholds, platt = both_rules(logits, correct, answerable)
            confidence = calibrated(logits, platt)
            curves[name].append(np.asarray([handled(confidence, correct, answerable, t)["balanced_handled_right"]
                                            for t in GRID]))
            cells.append(f"{name} " + " | ".join(
                f"{t:.2f} -> {handled(confidence, correct, answerable, t)['balanced_handled_right']:.3f}"
                for t in thresholds))
        print(f"  {assignment}: " + "    ".join(cells), flush=True)
    print("the handled-right curve averaged over those assignments (repeated cross-validation):")
    for name in names:
        mean = np.mean(curves[name], axis=0)
        best = int(np.argmax(np.round(mean, 9)))
        shown = " ".join(f"{t:.2f}:{v:.3f}" for t, v in zip(GRID, mean) if 0.40 <= t <= 0.75 and round(t * 100) % 5 == 0)
        print(f"  {name}: highest {mean[best]:.3f} at {GRID[best]:.2f}; {shown}")
    calibrations = repeated(rows, names, unit_logits, args.ensemble)
    examples(calibrations)
    print(f"bootstrap ({args.samples} samples of the questions, judged on those left out):")
    for name in names:
        logits, correct, answerable = per_set(rows, first, name)
        rng = np.random.RandomState(0)
        chosen, judged = [], []
        for _ in range(args.samples):
            sample = rng.randint(0, len(logits), len(logits))
            left_out = np.setdiff1d(np.arange(len(logits)), sample)
            if (~answerable[sample]).sum() < 3 or (~answerable[left_out]).sum() < 2:
                continue
            thresholds, platt = both_rules(logits[sample], correct[sample], answerable[sample])
            confidence = calibrated(logits[left_out], platt)
            chosen.append(thresholds)
            judged.append([handled(confidence, correct[left_out], answerable[left_out], t)["balanced_handled_right"]
                           for t in thresholds])
        chosen, judged = np.asarray(chosen), np.asarray(judged)
        change = judged[:, 1] - judged[:, 0]
        low, high = np.percentile(change, [2.5, 97.5])
        print(f"  {name}: threshold mean {chosen[:, 0].mean():.3f} sd {chosen[:, 0].std():.3f} (peak) against "
              f"{chosen[:, 1].mean():.3f} sd {chosen[:, 1].std():.3f} (crossing); left-out handled right "
              f"{judged[:, 0].mean():.3f} against {judged[:, 1].mean():.3f}, change {change.mean():+.3f} "
              f"({low:+.3f} to {high:+.3f}), {len(judged)} samples")
    return 0


def repeated(rows: list, names: list[str], unit_logits: list[list[np.ndarray]],
             size: int) -> list[tuple[float, float, float]]:
    """Each question's unit scores averaged over `size` assignments, for disjoint groups of them: does the
    threshold then stay put? Returns each group's corpus calibration (slope, bias, threshold)."""
    print(f"repeated cross-validation, each unit's score averaged over {size} assignments:")
    calibrations = []
    for start in range(0, len(unit_logits) - size + 1, size):
        averaged = [np.mean([logits[at] for logits in unit_logits[start:start + size]], axis=0)
                    for at in range(len(rows))]
        top = [_best_unit(logits) for logits in averaged]
        cells = []
        for name in names:
            logits, correct, answerable = per_set(rows, top, name)
            platt = _platt(logits, correct)
            threshold = best_threshold(calibrated(logits, platt), correct, answerable)
            right = handled(calibrated(logits, platt), correct, answerable, threshold)["balanced_handled_right"]
            cells.append(f"{name} {threshold:.2f} -> {right:.3f}")
            if name == "corpus":
                calibrations.append((*platt, threshold))
        print(f"  assignments {start}-{start + size - 1}: " + "    ".join(cells), flush=True)
    return calibrations


# The examples over the bundled corpus, and whether each should be answered.
EXAMPLES = (("who chaired the DROI delegation?", True),
            ("who chaired the DROI delegation to Kazakhstan in 2022?", True),
            ("alga party leader released on parole - who?", True),
            ("whats the EU doing about torture in kz prisons", True),
            ("u know when the hr dialogue in 2017 happened?", True),
            ("when did Bokayev get out of prison", False),
            ("who founded the Open Dialog Foundation", False))


def examples(calibrations: list[tuple[float, float, float]]) -> None:
    """The shipped model's confidence in the issue's examples, under its own calibration and each steadier one."""
    from index.answer.features import candidates
    from index.answer.short import PassageReads
    from index.pipeline import Pipeline

    pipeline = Pipeline.open(Settings())
    shipped = pipeline.calibration
    rules = [(shipped.slope, shipped.bias, shipped.threshold), *calibrations]
    print("the issue's examples: confidence / threshold, + handled right, - not "
          f"(shipped calibration, then the {len(calibrations)} above):")
    for question, answerable in EXAMPLES:
        asked, hits = pipeline.evidence(question)
        reads = PassageReads(pipeline.reading.reader, asked.text, hits, pipeline.reading.answer_reader).margins()
        logit = float(pipeline.scorer.logits(candidates(asked, hits, reads)[1]).max())
        cells = []
        for slope, bias, threshold in rules:
            confidence = float(calibrated(np.asarray(logit), (slope, bias)))
            cells.append(f"{confidence:.2f}/{threshold:.2f} {'+' if (confidence >= threshold) == answerable else '-'}")
        print(f"  {'answerable' if answerable else 'unanswerable':12} {question[:52]:52} " + "  ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
