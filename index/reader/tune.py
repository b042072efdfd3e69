"""Choose how sure the reader must be for its span to be shown first: the last step of `make train-reader`.

The card's `threshold` says whether a paragraph answers at all. Once the answer model has
answered, the question is another: is the span a better first line than the sentence? Each
development question of both labelled sets (the corpus's and the SQuAD 2.0 articles'; never the
report parts) is asked as a user would ask it, with the span shown whatever its margin and with
no reader; the margin above which the span goes first is the one that gives the highest
F1 of what is shown first on answered answerable questions, each set weighing half. It is
written into the card as `span_threshold`.

    python -m index.reader.tune [--folder index/models/reader]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.evaluate.spans import span_f1
from index.reader.model import CARD, DEFAULT_FOLDER, Reader

MARKER_PATTERN = r"\s*\[\d+\]"
SQUAD_WORK = Path(".citebot/squad")
LIMIT = 1e6  # stands for an infinite threshold: always (-) or never (+) shown


@dataclass
class Sure:
    """Stands in for the reader with no span threshold, keeping what it read for the question asked last."""

    reader: Reader
    span_threshold: float = -math.inf
    reads: dict[str, Any] = field(default_factory=dict)  # passage text -> the reader's Read of it

    def read(self, question: str, texts: list[str], quotable_from: list[int] | None = None) -> list[Any]:
        found = self.reader.read(question, texts, quotable_from)
        self.reads.update(zip(texts, found))
        return found


def question_rows(pipeline: Any, items: list[Any]) -> list[tuple[float, float, float]]:
    """For each answered answerable question: (margin, F1 of the span, F1 of the answer without the reader)."""
    import re

    sure = Sure(pipeline.reading.reader)
    reading = pipeline.reading
    rows = []
    for item in items:
        if item.unanswerable or not item.must_contain:
            continue
        pipeline.reading = replace(reading, reader=sure)
        sure.reads.clear()
        with_span = pipeline.ask(item.question)
        pipeline.reading = replace(reading, short_answer=False)  # the same answer model, no span put first
        plain = pipeline.ask(item.question)
        if not plain.found:
            continue
        sentence = re.sub(MARKER_PATTERN, "", plain.answer)
        if with_span.span is None:
            rows.append((-math.inf, 0.0, span_f1(sentence, item.must_contain)))
            continue
        quote = next(c.quote for c in with_span.citations if c.n == with_span.span.citation)
        rows.append((sure.reads[quote].margin, span_f1(with_span.span.text, item.must_contain),
                     span_f1(sentence, item.must_contain)))
    pipeline.reading = reading
    return rows


def best_margin(sets: dict[str, list[tuple[float, float, float]]]) -> tuple[float, dict[str, float]]:
    """The margin that maximises the sets' mean F1 of what is shown first, and that F1 per set."""
    margins = sorted({m for rows in sets.values() for m, _, _ in rows if m > -math.inf})
    candidates = [-math.inf] + [float(np.mean(pair)) for pair in zip(margins, margins[1:])] + [math.inf]

    def shown(rows: list[tuple[float, float, float]], threshold: float) -> float:
        return float(np.mean([span if margin > threshold else sentence for margin, span, sentence in rows]))

    scores = [(np.mean([shown(rows, t) for rows in sets.values()]), t) for t in candidates]
    best = max(scores, key=lambda pair: (round(pair[0], 9), -pair[1]))[1]
    return best, {name: round(shown(rows, best), 4) for name, rows in sets.items()}


def tune(folder: Path) -> dict[str, Any]:
    from bot.train_command import SQUAD
    from index.evaluate.datasets import DEFAULT_SPLITS, DEVELOPMENT, load_splits, select_part, squad_to_corpus
    from index.evaluate.run import load_items
    from index.pipeline import Pipeline
    from index.settings import Settings

    report = load_splits(DEFAULT_SPLITS)
    settings = Settings(reader_model=folder)
    corpus, squad_items = squad_to_corpus(SQUAD, SQUAD_WORK)
    sets = {"corpus": (settings, Path("eval/qa.jsonl")),
            "squad2": (settings.model_copy(update={"corpus_dir": corpus, "index_dir": SQUAD_WORK / "index"}),
                       squad_items)}
    rows = {}
    for name, (set_settings, items_path) in sets.items():
        pipeline = Pipeline.open(set_settings)
        items = select_part(load_items(items_path).items, DEVELOPMENT, report)
        print(f"reader: asking the {len(items)} development questions of {name}", file=sys.stderr)
        rows[name] = question_rows(pipeline, items)
    threshold, f1 = best_margin(rows)
    without = {name: round(float(np.mean([s for _, _, s in r])), 4) for name, r in rows.items()}
    return {"span_threshold": round(max(-LIMIT, min(LIMIT, threshold)), 4),  # JSON has no infinity
            "span_tuning": {"questions": {n: len(r) for n, r in rows.items()}, "shown_first_f1": f1,
                            "shown_first_f1_without_reader": without,
                            "rule": "highest mean F1 of what an answered answerable development question shows "
                                    "first, each labelled set weighing half"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.reader.tune", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    args = parser.parse_args(argv)
    tuned = tune(args.folder)
    path = args.folder / CARD
    card = json.loads(path.read_text(encoding="utf-8"))
    card.update(tuned)
    path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(tuned, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
