"""Answer quality and speed of the learned scorer beside the hand-weighted one it replaced, in one run.

The old scorer is the code of OLD_COMMIT (the last commit before the learned scorer),
taken from git into a scratch folder and run with this venv. Both answer the report part
of both labelled sets (eval/splits.json: documents never fitted or tuned on), each from
an index built by its own code; warm latency comes from the eval, cold `citebot ask` is
timed as a fresh process.

    .venv/bin/python bench/answer_quality.py   (make bench-quality; about 4 minutes)
"""

from __future__ import annotations

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
        ("citation precision", "citation_precision"), ("warm ask p50 (ms)", "p50"), ("warm ask p95 (ms)", "p95"))


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    old_code = Path(tempfile.mkdtemp(prefix="citebot-old-scorer-"))
    archive = subprocess.run(["git", "archive", OLD_COMMIT, "bot", "index", "prompts"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old_code)], input=archive, check=True)
    report_docs = load_splits()
    results = {}
    for name, (items_path, corpus, calibration) in SETS.items():
        items = select_part(load_items(items_path).items, REPORT, report_docs)
        part = WORK / f"{calibration}-report.jsonl"
        part.write_text("".join(json.dumps(_row(i)) + "\n" for i in items), encoding="utf-8")
        results[name] = {
            "items": len(items),
            "before": _run(old_code, corpus, WORK / f"old-{calibration}", part, {}),
            "after": _run(ROOT, corpus, WORK / f"new-{calibration}", part, {"CITEBOT_CALIBRATION": calibration}),
        }
    results["cold ask (s)"] = {"before": _cold_ask(old_code, WORK / "old-corpus"),
                               "after": _cold_ask(ROOT, WORK / "new-corpus")}
    (WORK / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(_markdown(results))


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


def _cold_ask(code: Path, index_dir: Path, runs: int = 3) -> float:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        _citebot(code, ["ask", "--corpus", str(ROOT / "corpus"), "--index-dir", str(index_dir),
                        "When was the DVK banned?"], {})
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _markdown(results: dict) -> str:
    lines = [f"Report part only (eval/splits.json). Before: the hand-weighted scorer of {OLD_COMMIT}; "
             "after: the learned scorer. Same items, same run.", ""]
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
