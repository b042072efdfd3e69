"""Answer quality and speed of the shipped answer model beside one it replaced, in one run.

By default the one replaced is the hand-weighted scorer: the code of OLD_COMMIT (the last
commit before the learned scorer), taken from git into a scratch folder and run with this
venv; `--before-code COMMIT` takes another commit's code and models the same way. With
`--before-model COMMIT` it is the answer model file of COMMIT, run by this code
(the scorer takes its columns by name, so an older model file still loads). Both answer the
report part of both labelled sets (eval/splits.json: documents never fitted or tuned on),
each from an index built by its own code, with each set's own calibration, or with
`--default-settings` the default one for both, as a user's own corpus gets it; warm latency
comes from the eval, cold `citebot ask` is timed as a fresh process.

    .venv/bin/python bench/answer_quality.py   (make bench-quality; about 4 minutes)
    .venv/bin/python bench/answer_quality.py --before-model 2d86c79 --default-settings   (make bench-answer-model)
    .venv/bin/python bench/answer_quality.py --before-code 8c5131e --default-settings   (a candidate against 8c5131e)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.train_command import SQUAD_WORK  # noqa: E402
from index.evaluate.datasets import REPORT, load_splits, select_part  # noqa: E402
from index.evaluate.run import load_items  # noqa: E402
from index.evaluate.significance import paired_difference  # noqa: E402

OLD_COMMIT = "de6c1bb"
WORK = ROOT / ".citebot" / "bench" / "answer-quality"
SETS = {  # name: (items, corpus, calibration)
    "eval/qa.jsonl": (ROOT / "eval" / "qa.jsonl", ROOT / "corpus", "corpus"),
    "SQuAD 2.0 articles": (ROOT / SQUAD_WORK / "qa.jsonl", ROOT / SQUAD_WORK / "corpus", "squad2"),
}
ROWS = (("handled right", "handled_right"), ("unanswerable declined", "unanswerable_declined"),
        ("answerable answered", "answered"), ("answer contains a correct answer", "contains"),
        ("citation precision", "citation_precision"), ("shown first: exact match", "span_exact_match"),
        ("shown first: F1", "span_f1"), ("warm ask p50 (ms)", "p50"), ("warm ask p95 (ms)", "p95"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-model", metavar="COMMIT",
                        help="before: the answer model file of COMMIT, run by this code (default: the code of "
                             f"{OLD_COMMIT})")
    parser.add_argument("--before-code", metavar="COMMIT", default=OLD_COMMIT,
                        help="before: the code and models (reader, answer model) of COMMIT, run with this venv")
    parser.add_argument("--default-settings", action="store_true",
                        help="the default calibration for both sets, not each set's own")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    before_code, before_env, label = _before(args.before_model, args.before_code)
    before_index = "new" if args.before_model else f"code-{args.before_code}"  # this code's own index, or its own
    report_docs = load_splits()
    results = {}
    for name, (items_path, corpus, calibration) in SETS.items():
        items = select_part(load_items(items_path).items, REPORT, report_docs)
        part = WORK / f"{calibration}-report.jsonl"
        part.write_text("".join(json.dumps(_row(i)) + "\n" for i in items), encoding="utf-8")
        own = {} if args.default_settings else {"CITEBOT_CALIBRATION": calibration}
        results[name] = {
            "items": len(items),
            "before": _run(before_code, corpus, WORK / f"{before_index}-{calibration}", part,
                           {**before_env, **(own if args.before_model else {})}),
            "after": _run(ROOT, corpus, WORK / f"new-{calibration}", part, own),
        }
    results["cold ask (s)"] = {"before": _cold_ask(before_code, WORK / f"{before_index}-corpus", before_env),
                               "after": _cold_ask(ROOT, WORK / "new-corpus", {})}
    (WORK / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    settings = "default settings (the corpus calibration for both)" if args.default_settings else \
        "each set's own calibration"
    print(_markdown(results, f"Before: {label}; after: the shipped answer model. {settings}."))


def _before(model_commit: str | None, code_commit: str) -> tuple[Path, dict[str, str], str]:
    """The code, environment and name of what the shipped model is compared with."""
    if model_commit:
        model = WORK / f"answer-model-{model_commit}.json"
        model.write_bytes(subprocess.run(["git", "show", f"{model_commit}:index/models/answer_scorer.json"],
                                         cwd=ROOT, check=True, capture_output=True).stdout)
        return ROOT, {"CITEBOT_ANSWER_MODEL": str(model)}, f"the answer model of {model_commit}"
    old_code = Path(tempfile.mkdtemp(prefix="citebot-before-"))
    archive = subprocess.run(["git", "archive", code_commit, "bot", "index", "prompts"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old_code)], input=archive, check=True)
    name = "the hand-weighted scorer of" if code_commit == OLD_COMMIT else "the code and models of"
    return old_code, {}, f"{name} {code_commit}"


def _row(item) -> dict:
    return {"id": item.id, "question": item.question, "answer": item.answer, "must_contain": list(item.must_contain),
            "gold_docs": list(item.gold_docs), "unanswerable": item.unanswerable}


def _env(code: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    return {**env, "PYTHONPATH": str(code), **extra}


def _citebot(code: Path, args: list[str], extra: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=code, env=_env(code, extra),
                          capture_output=True, text=True, check=True)
    return done.stdout


def _run(code: Path, corpus: Path, index_dir: Path, items: Path, extra: dict[str, str]) -> dict[str, float]:
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    _citebot(code, ["index", *where], extra)
    report = json.loads(_citebot(code, ["eval", str(items), *where, "--json"], extra))
    return _figures(report)


def _figures(report: dict) -> dict:
    """Computed from the item results alike for both versions (the old eval lacks some of these)."""
    outcomes = _outcomes(report["results"])
    precision = [r["citation_precision"] for r in report["results"] if r["citation_precision"] is not None]
    return {**{key: statistics.fmean(by_id.values()) for key, by_id in outcomes.items()},
            "citation_precision": statistics.fmean(precision) if precision else 0.0,
            "p50": report["metrics"]["latency_p50_ms"], "p95": report["metrics"]["latency_p95_ms"],
            **{key: report["metrics"].get(key, float("nan")) for key in ("span_exact_match", "span_f1")},
            "outcomes": outcomes}


def _outcomes(results: list[dict]) -> dict[str, dict[str, float]]:
    """Per question, by id: what each share counts (1.0 or 0.0), so two versions pair question by question."""
    def right(r: dict) -> bool:
        return bool(r["found"] and r["contains"])

    answerable = [r for r in results if not r["unanswerable"]]
    return {"handled_right": {r["id"]: float(not r["found"] if r["unanswerable"] else right(r)) for r in results},
            "unanswerable_declined": {r["id"]: float(not r["found"]) for r in results if r["unanswerable"]},
            "answered": {r["id"]: float(r["found"]) for r in answerable},
            "contains": {r["id"]: float(right(r)) for r in answerable}}


def _change(result: dict, key: str) -> str:
    """After minus before over the same questions, with its 95% interval; blank for figures not per question."""
    if key not in result["after"]["outcomes"]:
        return ""
    before, after = result["before"]["outcomes"][key], result["after"]["outcomes"][key]
    change = paired_difference([before[i] for i in after], list(after.values()))
    return f"{change.value:+.3f} ({change.low:+.3f} to {change.high:+.3f}){'' if change.beyond_chance else ' ~'}"


def _cold_ask(code: Path, index_dir: Path, extra: dict[str, str], runs: int = 3) -> float:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        _citebot(code, ["ask", "--corpus", str(ROOT / "corpus"), "--index-dir", str(index_dir),
                        "When was the DVK banned?"], extra)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _markdown(results: dict, what: str) -> str:
    lines = [f"Report part only (eval/splits.json). {what} Same items, same run.", ""]
    for name in SETS:
        r = results[name]
        lines += [f"{name}, {r['items']} questions:", "", "| measure | before | after | change (95% interval) |",
                  "|---|---|---|---|"]
        for label, key in ROWS:
            lines.append(f"| {label} | {r['before'][key]:.3f} | {r['after'][key]:.3f} | {_change(r, key)} |")
        lines.append("")
    lines.append("~: the interval holds zero, so the questions' luck alone could give that change.")
    cold = results["cold ask (s)"]
    lines.append(f"cold `citebot ask`: before {cold['before']:.2f} s, after {cold['after']:.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
