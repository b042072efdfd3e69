"""Speed of answering: warm in-process `ask` and a cold `citebot ask` process, with baselines.

Warm latency is measured over the questions of eval/qa.jsonl and set against what no
pipeline can avoid (encoding the question, one FAISS search), measured in the same run.
Cold time is a fresh `citebot ask` process against a bare `python -c pass` and a bare
`import sentence_transformers`.

    .venv/bin/python bench/ask_latency.py [--rounds 3] [--cold-runs 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, open_pipeline  # noqa: E402
from index.evaluate import percentile  # noqa: E402


def warm(rounds: int) -> dict[str, float]:
    pipeline = open_pipeline()
    questions = [json.loads(line)["question"] for line in (ROOT / "eval/qa.jsonl").read_text().splitlines() if line]
    for question in questions[:5]:
        pipeline.ask(question)  # first calls pay lazy imports and caches
    timings = {"ask": [], "encode": [], "faiss": []}
    for _ in range(rounds):
        for question in questions:
            start = time.perf_counter()
            pipeline.ask(question)
            timings["ask"].append(time.perf_counter() - start)
            start = time.perf_counter()
            vector = pipeline.embedder.encode_query(question)
            timings["encode"].append(time.perf_counter() - start)
            start = time.perf_counter()
            pipeline.store.dense_search(vector, pipeline.settings.candidates)
            timings["faiss"].append(time.perf_counter() - start)
    return {f"{name}_{p}": percentile(values, share) * 1000
            for name, values in timings.items() for p, share in (("p50", 0.5), ("p95", 0.95))} | {
        "questions": len(questions) * rounds, "chunks": len(pipeline.store.chunks)}


def cold(runs: int, index_dir: Path) -> dict[str, float]:
    citebot = str(Path(sys.executable).with_name("citebot"))
    commands = {
        "python": [sys.executable, "-c", "pass"],
        "import_st": [sys.executable, "-c", "import sentence_transformers"],
        "citebot_ask": [citebot, "ask", "--index-dir", str(index_dir), "When was the DVK movement banned?"],
    }
    result = {}
    for name, command in commands.items():
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        result[name] = statistics.median(times)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the eval questions")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh processes per command")
    args = parser.parse_args()
    w = warm(args.rounds)
    from tempfile import gettempdir

    c = cold(args.cold_runs, Path(gettempdir()) / "citebot-bench-index")
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
          f"Python {platform.python_version()}; corpus: {w['chunks']} passages; {w['questions']} questions")
    print("warm, in process (ms)          p50      p95")
    print(f"  citebot ask               {w['ask_p50']:7.1f}  {w['ask_p95']:7.1f}")
    print(f"  encode question alone     {w['encode_p50']:7.1f}  {w['encode_p95']:7.1f}")
    print(f"  FAISS search alone        {w['faiss_p50']:7.2f}  {w['faiss_p95']:7.2f}")
    print(f"  ask / encode (p50)        {w['ask_p50'] / w['encode_p50']:7.2f}x")
    print("cold, fresh process (s, median)")
    print(f"  python -c pass            {c['python']:7.2f}")
    print(f"  import sentence_transformers {c['import_st']:4.2f}")
    print(f"  citebot ask               {c['citebot_ask']:7.2f}   ({c['citebot_ask'] / c['import_st']:.2f}x the import alone)")


if __name__ == "__main__":
    main()
