"""Do the span reader's margins make the answer model's decisions better? Cross-validated, development parts only.

Each development question of both labelled sets is read as `citebot train` reads it: the
reader reads the passages of the first two hits (index.answer.features.READ_PASSAGES) and
four columns join each unit's features. The trees are fitted on retrieval's features alone
(`citebot train --no-reader`, the scorer before the reader weighed in) and on all of them
(the default), by `citebot train`'s own cross-validation over documents, under several
assignments of documents to folds (on the corpus's hundred development questions one
assignment's figure moves by itself by up to 0.04). Printed for each: the threshold rule's
figures, and how many unanswerable questions each declines when both answer the same share
of the answerable ones (about 4 minutes an assignment on 2 cores).

    .venv/bin/python bench/reader_features.py [--assignments 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.answer.features import FEATURES, RETRIEVAL_FEATURES  # noqa: E402
from index.evaluate.train import Labelled, _cross_validated_top_logits, _platt, best_threshold, handled  # noqa: E402

SETS = ("corpus", "squad2")
ANSWERED = (0.6, 0.7, 0.8, 0.9)  # shares of the answerable questions answered, for the matched comparison
FIGURES = ("balanced_handled_right", "answerable_answered", "unanswerable_declined")


def confidences(rows: list[Labelled], assignment: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per set: cross-validated calibrated confidence in each question's best unit, whether it is right, and
    whether the question is answerable."""
    top = _cross_validated_top_logits(rows, assignment)
    correct = np.asarray([r.answerable and bool(r.holds_answer[i]) if i >= 0 else False
                          for r, (_, i) in zip(rows, top)])
    logits = np.asarray([logit for logit, _ in top])
    answerable = np.asarray([r.answerable for r in rows])
    found = {}
    for name in SETS:
        mask = np.asarray([r.dataset == name for r in rows])
        slope, bias = _platt(logits[mask], correct[mask])
        found[name] = (1 / (1 + np.exp(-(slope * logits[mask] + bias))), correct[mask], answerable[mask])
    return found


def declined_at(confidence: np.ndarray, correct: np.ndarray, answerable: np.ndarray, share: float) -> float:
    """Unanswerable questions declined at the threshold that answers `share` of the answerable ones."""
    return handled(confidence, correct, answerable, float(np.quantile(confidence[answerable], 1 - share)))[
        "unanswerable_declined"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", type=int, default=3, help="assignments of documents to folds")
    args = parser.parse_args()
    from bot.train_command import SQUAD, labelled_rows
    from index.reader.model import Reader
    from index.settings import Settings

    settings = Settings()
    rows, _, _ = labelled_rows(argparse.Namespace(items=ROOT / "eval" / "qa.jsonl", squad=ROOT / SQUAD, splits=None),
                               settings, Reader.load(settings.reader_model))
    models = {"trees alone": [FEATURES.index(n) for n in RETRIEVAL_FEATURES],
              "trees + reader": list(range(len(FEATURES)))}
    print("cross-validated over documents, development parts; threshold by the shipped rule, then unanswerable "
          "declined at a matched share of answerable answered")
    print(f"{'':16s}{'':4s}{'':8s}{'threshold':>10s}" + "".join(f"{k.split('_')[-1]:>10s}" for k in FIGURES)
          + "".join(f"{'@' + str(s):>8s}" for s in ANSWERED))
    for assignment in range(args.assignments):
        for label, columns in models.items():
            subset = [Labelled(r.dataset, r.document, r.answerable, r.features[:, columns], r.holds_answer)
                      for r in rows]
            for name, (confidence, correct, answerable) in confidences(subset, assignment).items():
                threshold = best_threshold(confidence, correct, answerable)
                figures = handled(confidence, correct, answerable, threshold)
                print(f"{label:16s}{assignment:<4d}{name:8s}{threshold:>10.2f}"
                      + "".join(f"{figures[k]:>10.3f}" for k in FIGURES)
                      + "".join(f"{declined_at(confidence, correct, answerable, s):>8.3f}" for s in ANSWERED),
                      flush=True)


if __name__ == "__main__":
    main()
