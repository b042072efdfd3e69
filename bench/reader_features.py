"""Do the answer reader's margins make the answer model's decisions better? Cross-validated, development parts only.

Each development question of both labelled sets is read as `citebot train` reads it: the
answer reader reads the passages index.answer.features.READS names (fusion's first two) and
four columns join each unit's features. The trees are fitted on retrieval's features alone
(`citebot train --no-reader`, the scorer before the reader weighed in) and on all of them
(the default), by `citebot train`'s own cross-validation over documents, under several
assignments of documents to folds (on the corpus's hundred development questions one
assignment's figure moves by itself by up to 0.04). Printed for each: the figures at the
threshold `citebot train`'s rule picks, and how many unanswerable questions each declines
when both answer the same share of the answerable ones (about 10 minutes on 2 cores).
`--reads` adds a row for the trees with the margins of other passages, or of passages read
under their document's title and date.

    .venv/bin/python bench/reader_features.py [--assignments 3] [--reads 2+1/heading 2/heading]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.answer.features import FEATURES, RETRIEVAL_FEATURES, Reads  # noqa: E402
from index.evaluate.threshold import ANSWERED_FLOOR, FLOORED, handled, threshold_of  # noqa: E402
from index.evaluate.train import Judged, cross_validated, with_features  # noqa: E402

ANSWERED = (0.6, 0.7, 0.8, 0.9)  # shares of the answerable questions answered, for the matched comparison
FIGURES = ("balanced_handled_right", "answerable_answered", "unanswerable_declined")


def declined_at(judged: Judged, share: float) -> float:
    """Unanswerable questions declined at the threshold that answers `share` of the answerable ones, averaged
    over the assignments."""
    return float(np.mean([handled(c, r, judged.answerable, float(np.quantile(c[judged.answerable], 1 - share)))[
        "unanswerable_declined"] for c, r in zip(judged.confidence, judged.correct)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", type=int, default=3, help="assignments of documents to folds")
    parser.add_argument("--reads", nargs="*", type=Reads.parse, default=[], metavar="SPEC",
                        help="other passages for the reader to read, each a row of its own: FUSION[+BM25][/heading], "
                             "as 2+1/heading (fusion's first two and BM25's first, under their documents' title and "
                             "date; about 2 minutes each)")
    args = parser.parse_args()
    from bot.train_command import SQUAD, labelled_rows
    from index.reader.model import Reader
    from index.settings import Settings

    settings = Settings()
    reader = Reader.load(settings.answer_reader_model)
    labelled = argparse.Namespace(items=ROOT / "eval" / "qa.jsonl", squad=ROOT / SQUAD, splits=None)
    rows, _, _ = labelled_rows(labelled, settings, reader)
    models = {"trees alone": (rows, RETRIEVAL_FEATURES), "trees + reader": (rows, FEATURES)}
    for reads in args.reads:
        models[f"reads {reads.spec()}"] = (labelled_rows(labelled, settings, reader, reads)[0], FEATURES)
    print("cross-validated over documents, development parts, each set's own calibration, as `citebot train` "
          "judges: the threshold by its rule over all assignments, figures averaged over them; then unanswerable "
          "declined at a matched share of answerable answered")
    print(f"{'':20s}{'':18s}{'threshold':>10s}" + "".join(f"{k.split('_')[-1]:>10s}" for k in FIGURES)
          + "".join(f"{'@' + str(s):>8s}" for s in ANSWERED))
    for label, (model_rows, features) in models.items():
        judged = cross_validated(with_features(model_rows, features), args.assignments)
        for name, floor in [(FLOORED, ANSWERED_FLOOR), (FLOORED, 0.0)] + [(n, 0.0) for n in judged if n != FLOORED]:
            threshold = threshold_of(judged[name].curves(), floor)
            figures = judged[name].handled(threshold)
            shown = name if floor or name != FLOORED else f"{name}, no floor"
            print(f"{label:20s}{shown:18s}{threshold:>10.2f}" + "".join(f"{figures[k]:>10.3f}" for k in FIGURES)
                  + "".join(f"{declined_at(judged[name], share):>8.3f}" for share in ANSWERED), flush=True)


if __name__ == "__main__":
    main()
