"""`citebot train`: fit the answer scorer on the development part of the labelled sets, write its JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from index.settings import Settings

SQUAD = Path("../shared/datasets/squad2-train8/squad2-8-articles.json")
SQUAD_WORK = Path(".citebot/squad")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", type=Path, default=Path("eval/qa.jsonl"),
                        help="labelled questions over the corpus (default eval/qa.jsonl)")
    parser.add_argument("--squad", type=Path, default=SQUAD,
                        help=f"a SQuAD 2.0 file to add as a second labelled set (default {SQUAD})")
    parser.add_argument("--splits", type=Path, default=None, help="split file (default eval/splits.json)")
    parser.add_argument("--out", type=Path, default=None, help="model file (default: CITEBOT_ANSWER_MODEL)")
    parser.add_argument("--no-reader", action="store_true",
                        help="fit on retrieval's features alone, without the answer reader's margins (the scorer "
                             "before the reader weighed in; answers without reading first)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.answer.features import FEATURES, RETRIEVAL_FEATURES
    from index.ingest.build import expected_meta
    from index.evaluate.train import data_card, fit, write_model
    from index.reader.model import Reader

    reader = None if args.no_reader else Reader.load(settings.answer_reader_model)
    rows, loaded, report_docs = labelled_rows(args, settings, reader)
    card = data_card(loaded, report_docs, expected_meta(settings), reader)
    scorer, figures = fit(rows, card, RETRIEVAL_FEATURES if reader is None else FEATURES)
    out = args.out or settings.answer_model
    write_model(scorer, out)
    print(json.dumps(figures, indent=1))
    thresholds = ", ".join(f"{name} {c.threshold}" for name, c in scorer.calibrations.items())
    print(f"citebot: wrote {out} (thresholds: {thresholds})", file=sys.stderr)
    return 0


def labelled_rows(args: argparse.Namespace, settings: Settings, reader=None,
                  reads=None) -> tuple[list, dict, frozenset[str]]:
    """The development questions of both labelled sets, each index brought up to date and read into feature rows
    (the reader's columns unread without a `reader`; `reads`: which passages it reads, None: what the bot reads)."""
    from index.ingest.build import update_index
    from index.evaluate.datasets import DEFAULT_SPLITS, load_splits, squad_to_corpus
    from index.embed.encoders import open_encoder
    from index.evaluate.run import load_items
    from index.answer.features import READS
    from index.evaluate.train import labelled_questions

    report_docs = load_splits(args.splits or DEFAULT_SPLITS)
    sets = [("corpus", settings, args.items)]
    if args.squad.is_file():
        corpus, items = squad_to_corpus(args.squad, SQUAD_WORK)
        sets.append(("squad2", settings.model_copy(update={"corpus_dir": corpus, "index_dir": SQUAD_WORK / "index"}),
                     items))
    else:
        print(f"citebot: {args.squad} not found; training on {args.items} alone", file=sys.stderr)
    encoder = open_encoder(settings, export_if_missing=True)
    rows, loaded = [], {}
    for name, set_settings, items_path in sets:
        update_index(set_settings, lambda: encoder)
        loaded[name] = load_items(items_path).items
        pipeline = _evidence_pipeline(set_settings, encoder)
        print(f"citebot: reading {name} ({items_path})", file=sys.stderr)
        rows += labelled_questions(name, loaded[name], pipeline.evidence, report_docs, reader, reads or READS)
    return rows, loaded, report_docs


def _evidence_pipeline(settings: Settings, encoder):
    from index.pipeline import Pipeline
    from index.answer.prompts import load_prompts
    from index.ingest.build import expected_meta
    from index.store import open_store

    store = open_store(settings, expected_meta(settings))
    return Pipeline(settings, encoder, store, load_prompts(settings.prompts_dir), None)
