"""How steady the answer model's threshold is, and what a smoother rule would give: development data only.

The shipped rule (index.evaluate.train._best_threshold) takes the peak of the handled-right
curve over thresholds, averaged over ±0.05, on cross-validated predictions. On the corpus's
hundred development questions that curve is flat and jagged. The alternative measured here
reads the same goal (each kind of question weighing half) off two logistic fits of the best
unit's score: P(right answer | score) and P(unanswerable | score), answerable questions
weighing 1/n_a and unanswerable ones 1/n_u; the threshold is where they cross.

Printed, for each labelled set:
- the threshold each rule picks under several assignments of documents to folds (each a refit
  of the cross-validated trees), with balanced handled right at it;
- that curve averaged over the assignments, which shows how flat it is;
- over bootstrap samples of the questions (one assignment): each rule's threshold chosen on
  the sample, judged on the questions left out of it, and the paired change.

Nothing here reads the report part.

    .venv/bin/python bench/threshold_rules.py   (about 8 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.train_command import SQUAD  # noqa: E402
from index.evaluate.train import _best_threshold, _cross_validated_top_logits, _platt, handled  # noqa: E402
from index.settings import Settings  # noqa: E402

GRID = np.round(np.arange(0.02, 0.98, 0.01), 2)


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
    return ((_best_threshold(calibrated(logits, platt), correct, answerable),
             crossing_threshold(logits, correct, answerable, platt)), platt)


def calibrated(logits: np.ndarray, platt: tuple[float, float]) -> np.ndarray:
    return 1 / (1 + np.exp(-(platt[0] * logits + platt[1])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", type=int, default=6, help="assignments of documents to folds")
    parser.add_argument("--samples", type=int, default=300, help="bootstrap samples of each set's questions")
    args = parser.parse_args(argv)
    from bot.train_command import labelled_rows

    rows, _, _ = labelled_rows(argparse.Namespace(items=ROOT / "eval" / "qa.jsonl", squad=ROOT / SQUAD, splits=None),
                               Settings())
    names = sorted({r.dataset for r in rows})
    first = None
    curves: dict[str, list[np.ndarray]] = {name: [] for name in names}
    print("fold assignment: threshold -> balanced handled right, peak rule | crossing rule")
    for assignment in range(args.assignments):
        top = _cross_validated_top_logits(rows, assignment)
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


if __name__ == "__main__":
    raise SystemExit(main())
