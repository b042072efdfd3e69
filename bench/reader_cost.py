"""The span reader's worth and cost: what is shown first, and how long answering takes, by passages read.

On the development parts only (the report parts are not read): the corpus's eval/qa.jsonl and
the SQuAD 2.0 articles `make squad` writes. For the reader off and reading 1, 2 and 3 passages,
`citebot eval --part development` gives exact match and F1 of what an answered answerable
question shows first (the short answer, else the whole answer), the share given a short
answer, answer-contains and handled right, and the warm latency of a whole answer; then
a fresh `citebot ask` process is timed with the reader on and off. Ratios are against the
reader off, measured in the same run. "Off" is `CITEBOT_READER=false`: no short answer; an
answer model that weighs the reader's margins (the shipped one) still reads the passages
index.answer.features.READS names for them, so "off" costs that reading too.

    .venv/bin/python bench/reader_cost.py [--settings 0,1,2,3] [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITEBOT = str(Path(sys.executable).with_name("citebot"))
SQUAD = ROOT / ".citebot" / "squad"
SHOWN = ("span_exact_match", "span_f1", "short_answer_rate", "answer_contains", "handled_right",
         "latency_p50_ms", "latency_p95_ms")
QUESTION = "When did an EU delegation visit Bokayev in detention?"


def environment(passages: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    return {**env, "CITEBOT_READER": "true" if passages else "false", "CITEBOT_READER_PASSAGES": str(passages or 1)}


def development_figures(passages: int) -> dict[str, dict[str, float]]:
    sets = {"corpus": [str(ROOT / "eval" / "qa.jsonl")],
            "squad2": [str(SQUAD / "qa.jsonl"), "--corpus", str(SQUAD / "corpus"), "--index-dir", str(SQUAD / "index")]}
    figures = {}
    for name, arguments in sets.items():
        done = subprocess.run([CITEBOT, "eval", *arguments, "--part", "development", "--json"], check=True,
                              capture_output=True, text=True, env=environment(passages), cwd=ROOT)
        metrics = json.loads(done.stdout)["metrics"]
        figures[name] = {key: metrics.get(key) for key in SHOWN}
    return figures


def cold_ask(passages: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([CITEBOT, "ask", QUESTION], check=True, capture_output=True, env=environment(passages), cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="0,1,2,3", help="passages read; 0: the reader off (the baseline)")
    parser.add_argument("--runs", type=int, default=3, help="fresh `citebot ask` processes per setting (median)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    subprocess.run([CITEBOT, "index"], check=True, capture_output=True, env=environment(0), cwd=ROOT)
    results = {}
    for passages in (int(p) for p in args.settings.split(",")):
        results[passages] = {**development_figures(passages), "cold_ask_s": round(cold_ask(passages, args.runs), 2)}
        print(f"passages {passages}: {json.dumps(results[passages])}", file=sys.stderr, flush=True)
    base = results.get(0)
    for name in ("corpus", "squad2"):
        print(f"\n{name} (development part)")
        print(f"{'reader passages':22s}" + "".join(f"{key:>20s}" for key in SHOWN))
        for passages, row in results.items():
            cells = []
            for key in SHOWN:
                value = row[name][key]
                ratio = f" ({value / base[name][key]:.2f}x)" if base and key.startswith("latency") and value else ""
                cells.append(f"{'n/a' if value is None else f'{value:.3f}'}{ratio}")
            print(f"{'off' if passages == 0 else passages:<22}" + "".join(f"{c:>20s}" for c in cells))
    print("\ncold `citebot ask` (s): " + ", ".join(f"{'off' if p == 0 else p}: {r['cold_ask_s']}"
                                               for p, r in results.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
