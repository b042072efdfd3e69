"""Would the span reader's scores make the answer model's confidence better? Cross-validated, development parts only.

Each development question of both labelled sets is read as `citebot train` reads it; the
reader reads the passages of the first `--passages` hits (retrieval order, so nothing here
depends on the trees being judged). Four columns join each unit's features: the best margin
in its passage, whether that passage's best span lies in the unit, the question's best
margin, and whether the question's best span lies in the unit. The trees are then fitted
with and without them by `citebot train`'s own cross-validation over documents, and the
cross-validated figures printed side by side (about 8 minutes on 2 cores).

    .venv/bin/python bench/reader_features.py [--passages 2]
"""

from __future__ import annotations

import argparse
import json

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.answer.features import candidates  # noqa: E402
from index.evaluate.train import Labelled, fit  # noqa: E402
from index.reader.model import Reader  # noqa: E402

UNREAD = -20.0  # the margin given to a passage the reader did not read


def reader_columns(reader: Reader, question: str, hits: list, found: list, passages: int) -> np.ndarray:
    """The four columns, one row per candidate unit."""
    reads = reader.read(question, [hit.chunk.text for hit in hits[:passages]])
    best = max(range(len(reads)), key=lambda i: reads[i].margin) if reads else -1
    top = reads[best].margin if reads else UNREAD
    rows = []
    for unit in found:
        read = reads[unit.hit_rank] if unit.hit_rank < len(reads) else None
        inside = read is not None and unit.start <= read.start < unit.end
        rows.append([read.margin if read else UNREAD, float(inside), top, float(inside and unit.hit_rank == best)])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2)
    args = parser.parse_args()
    from bot.train_command import SQUAD, SQUAD_WORK, _evidence_pipeline
    from index.embed.encoders import open_encoder
    from index.evaluate.datasets import DEFAULT_SPLITS, DEVELOPMENT, document_of, load_splits, select_part, \
        squad_to_corpus
    from index.evaluate.run import load_items
    from index.evaluate.train import holds
    from index.settings import Settings

    settings = Settings()
    report = load_splits(DEFAULT_SPLITS)
    corpus, squad_items = squad_to_corpus(SQUAD, SQUAD_WORK)
    sets = [("corpus", settings, ROOT / "eval" / "qa.jsonl"),
            ("squad2", settings.model_copy(update={"corpus_dir": corpus, "index_dir": SQUAD_WORK / "index"}),
             squad_items)]
    encoder = open_encoder(settings, export_if_missing=True)
    reader = Reader.load()
    plain, read = [], []
    for name, set_settings, items_path in sets:
        pipeline = _evidence_pipeline(set_settings, encoder)
        items = select_part(load_items(items_path).items, DEVELOPMENT, report)
        print(f"reading {len(items)} development questions of {name}", file=sys.stderr, flush=True)
        for item in items:
            question, hits = pipeline.evidence(item.question)
            found, features = candidates(question, hits)
            labels = np.asarray([not item.unanswerable and holds(hits[c.hit_rank].chunk.text[c.start : c.end],
                                                                 item.must_contain) for c in found], dtype=bool)
            row = Labelled(name, document_of(item), not item.unanswerable, features, labels)
            plain.append(row)
            extra = reader_columns(reader, question.text, hits, found, args.passages)
            read.append(replace(row, features=np.hstack([features, extra])))
    results = {}
    for label, rows in (("trees", plain), ("trees + reader", read)):
        _, figures = fit(rows, {})
        results[label] = figures
        print(label, json.dumps(figures), file=sys.stderr, flush=True)
    print(f"\ncross-validated over documents, development parts, reader reading {args.passages} passages")
    print(f"{'':18s}" + "".join(f"{n + ' ' + k:>32s}" for n in ("corpus", "squad2")
                                for k in ("balanced", "answered", "declined")))
    for label, figures in results.items():
        cells = [figures[n][k] for n in ("corpus", "squad2")
                 for k in ("balanced_handled_right", "answerable_answered", "unanswerable_declined")]
        print(f"{label:18s}" + "".join(f"{c:>32.4f}" for c in cells))



if __name__ == "__main__":
    main()
