"""`citebot eval`: run question/answer pairs through the pipeline and report, compare, gate."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from index.settings import Settings


class EvalError(Exception):
    """A problem with the eval's input or options; printed as one line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path, help="questions as JSONL (or CSV with the same columns)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--report", type=Path, metavar="PATH", help="write the report as PATH (JSON) and PATH.md")
    parser.add_argument("--compare", type=Path, metavar="OLD.json", help="show what got better and worse since OLD")
    parser.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                        help="exit 1 when METRIC falls below VALUE (repeatable)")
    parser.add_argument("--part", choices=("all", "report", "development"), default="all",
                        help="only the items of this part of the by-document split (eval/splits.json)")
    parser.add_argument("--splits", type=Path, default=None, help="split file (default eval/splits.json)")
    parser.add_argument("--baseline", action="store_true",
                        help="also run a default llama-index pipeline on the same items, side by side")
    parser.add_argument("--llm", action="store_true",
                        help="with an LLM configured, also answer the same items extractively, side by side")
    parser.add_argument("--calibrate", action="store_true",
                        help="choose the answer threshold on these questions and write it beside the index, where "
                        "every later ask, chat and bot process uses it (CITEBOT_MIN_CONFIDENCE still wins)")
    parser.add_argument("--from-feedback", nargs="?", const="", metavar="LOG",
                        help="print 👎-voted answers of the bot's feedback log as items to complete")


def _feedback(log: str, settings: Settings) -> list[dict[str, Any]]:
    """The votes of the log file named, or else of the bot's: in its database when one is set, or its log file."""
    from index.evaluate.run import feedback_log_entries

    url = settings.database_url.get_secret_value()
    if not log and url:
        from bot.shared_state import SharedFeedback, SharedState

        return SharedFeedback(SharedState(url).open()).entries()
    log_path = Path(log) if log else settings.feedback_log
    if not log_path.is_file():
        raise EvalError(f"feedback log {log_path} does not exist")
    return feedback_log_entries(log_path)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from index.evaluate.report import below_thresholds, compare, markdown, parse_thresholds, table
    from index.evaluate.run import feedback_candidates, load_items

    if args.from_feedback is not None:
        for candidate in feedback_candidates(_feedback(args.from_feedback, settings)):
            print(json.dumps(candidate, ensure_ascii=False))
        return 0
    if args.file is None or not args.file.is_file():
        raise EvalError(f"eval file {args.file or '(none given)'} does not exist")
    try:
        thresholds = parse_thresholds(args.fail_under)
    except ValueError as error:
        raise EvalError(str(error)) from None
    old = _read_report(args.compare) if args.compare else None
    loaded = load_items(args.file)
    for problem in loaded.problems:
        print(f"citebot: {args.file}: {problem} (skipped)", file=sys.stderr)
    items = loaded.items
    if args.part != "all":
        from index.evaluate.datasets import DEFAULT_SPLITS, load_splits, select_part

        items = select_part(items, args.part, load_splits(args.splits or DEFAULT_SPLITS))
    if not items:
        raise EvalError(f"{args.file} holds no usable items" + (f" in its {args.part} part" if args.part != "all" else ""))
    report = _run_pipeline(items, settings, args)
    report["part"] = args.part
    report["malformed"] = loaded.problems
    _write_outputs(report, args, table, markdown)
    if args.calibrate:
        _calibrate(report, settings, args.file)
    if old is not None:
        text, _, _ = compare(old, report)
        print(text, file=sys.stderr if args.json else sys.stdout)
    failures = below_thresholds(report["metrics"], thresholds)
    for failure in failures:
        print(f"citebot: eval: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _run_pipeline(items, settings: Settings, args: argparse.Namespace) -> dict:
    from index.evaluate.run import embedding_similarity, evaluate
    from index.pipeline import Pipeline

    # Every question is answered and the threshold applied by the eval, so it knows what each declined
    # answer would have been: the plot and the calibration table need that. An LLM still words only the
    # answers over the threshold (pipeline.llm_min_confidence), as for a user: its figures are theirs.
    pipeline = Pipeline.open(settings)
    threshold, pipeline.min_confidence = pipeline.min_confidence, 0.0
    similarity = embedding_similarity(pipeline.embedder.encode_passages)
    progress = _progress_bar if sys.stderr.isatty() and not args.json else (lambda values: values)
    not_found = pipeline.prompts.render("not_found", question="")
    if args.llm and args.baseline:
        raise EvalError("give --llm or --baseline, not both: the report has one column beside citebot's")
    if args.llm and pipeline.generator is None:
        raise EvalError("--llm needs an LLM: CITEBOT_LLM_MODEL_PATH, or CITEBOT_LLM_PROVIDER=openai with "
                        "CITEBOT_LLM_MODEL and CITEBOT_LLM_BASE_URL")
    report = evaluate(items, pipeline.ask_traced, similarity, settings.top_k, progress, threshold, not_found,
                      streams=pipeline.generator is not None, decline=lambda q: _declined(pipeline, q))
    report["calibration"] = settings.calibration
    if args.llm:  # the same pipeline without its LLM, on the same items: what the wording changed
        with pipeline.without_llm():
            report["extractive"] = evaluate(items, pipeline.ask_traced, similarity, settings.top_k, progress,
                                            threshold, not_found, decline=lambda q: _declined(pipeline, q))
        report["label"], report["extractive"]["label"] = "with LLM", "extractive"
    if args.baseline:
        from index.evaluate.baseline import baseline_asker

        ask = baseline_asker(settings.corpus_dir, settings.embed_model)
        report["baseline"] = evaluate(items, ask, similarity, settings.top_k, progress)
    return report


def _calibrate(report: dict, settings: Settings, source: Path) -> None:
    from index.evaluate import calibrate

    try:
        chosen = calibrate.choose(report["results"])
    except calibrate.TooFewLabelled as error:
        raise EvalError(str(error)) from None
    path = calibrate.write(settings.index_dir, chosen, source)
    figures = chosen["handled_right"]
    print(f"citebot: threshold {chosen['threshold']:.2f} (was {report['threshold']:.2f}) written to {path}: on these "
          f"{chosen['questions']} questions it handles {figures['handled_right']:.3f} right, answers "
          f"{figures['answerable_answered']:.3f} of the answerable and declines {figures['unanswerable_declined']:.3f} "
          "of the unanswerable", file=sys.stderr)


def _declined(pipeline, question: str):
    """The reply a user gets when the question is declined: "not found" with the closest passages."""
    return pipeline.ask_traced(question, min_confidence=math.inf)[0]


def _write_outputs(report: dict, args: argparse.Namespace, table, markdown) -> None:
    baseline = report.get("baseline") or report.get("extractive")  # the column beside citebot's
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(table(report, baseline))
    if args.report:
        from index.evaluate.plot import calibration_markdown, write_plot

        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        plot = write_plot(report, args.report.with_suffix(".png"), f"{args.file} ({report['part']} part)")
        extra = calibration_markdown(report) + ["", f"![answered right against answered]({plot.name})"]
        args.report.with_suffix(".md").write_text(markdown(report, baseline, extra=extra), encoding="utf-8")


def _read_report(path: Path) -> dict:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise EvalError(f"cannot read the report to compare with, {path}: {error}") from None
    if not isinstance(report, dict) or "results" not in report:
        raise EvalError(f"{path} is not a citebot eval report (written by --json or --report)")
    return report


def _progress_bar(items):
    from tqdm import tqdm

    return tqdm(items, desc="Evaluating", unit="question", file=sys.stderr)
