"""Calibrate the 'not found' threshold on the eval questions, and show where answers go wrong.

Runs every question of eval/qa.jsonl through the real pipeline with the threshold
switched off, records the best evidence score, and prints the thresholds that best
separate answerable from unanswerable questions (balanced accuracy).

    .venv/bin/python bench/calibrate.py [--eval eval/qa.jsonl] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import open_pipeline  # noqa: E402
from index.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=Path("eval/qa.jsonl"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    items = [json.loads(line) for line in args.eval.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipeline = open_pipeline(min_confidence=-1.0)
    rows = []
    for item in items:
        answer = pipeline.ask(item["question"])
        score = answer.citations[0].score if answer.citations else 0.0
        cited = {c.doc_id for c in answer.citations}
        text = answer.answer.lower()
        correct = any(m.lower() in text for m in item.get("must_contain", [])) if "must_contain" in item else None
        gold_cited = bool(cited & set(item.get("gold_docs", []))) if item.get("gold_docs") else None
        rows.append((item, score, correct, gold_cited, answer))
    answerable = sorted(s for it, s, *_ in rows if not it.get("unanswerable"))
    unanswerable = sorted(s for it, s, *_ in rows if it.get("unanswerable"))
    print(f"answerable   n={len(answerable):3d} scores min {answerable[0]:.3f}  p10 {answerable[len(answerable) // 10]:.3f}")
    print(f"unanswerable n={len(unanswerable):3d} scores max {unanswerable[-1]:.3f}  p90 {unanswerable[len(unanswerable) * 9 // 10]:.3f}")
    best = _best_thresholds(answerable, unanswerable)
    print(f"best balanced accuracy {best[0]:.3f} for thresholds in [{best[1]:.3f}, {best[2]:.3f}]; "
          f"midpoint {(best[1] + best[2]) / 2:.3f}")
    print("threshold  answered(answerable)  abstained(unanswerable)")
    for step in range(-4, 5):
        t = round(best[1] + step * 0.01, 3)
        tpr = sum(s >= t for s in answerable) / len(answerable)
        tnr = sum(s < t for s in unanswerable) / len(unanswerable)
        print(f"  {t:.3f}      {tpr:6.1%}               {tnr:6.1%}")
    configured = Settings().min_confidence
    tpr = sum(s >= configured for s in answerable) / len(answerable)
    tnr = sum(s < configured for s in unanswerable) / len(unanswerable)
    print(f"at the configured min_confidence {configured}: answers {tpr:.1%} of answerable, "
          f"declines {tnr:.1%} of unanswerable")
    correct = [c for _, _, c, _, _ in rows if c is not None]
    gold = [g for _, _, _, g, _ in rows if g is not None]
    print(f"answer contains expected text (threshold off): {sum(correct)}/{len(correct)}; gold document cited: {sum(gold)}/{len(gold)}")
    for item, score, ok, gold_cited, answer in rows:
        flag = "UNANS" if item.get("unanswerable") else ("ok" if ok else "MISS")
        if args.verbose or flag == "MISS":
            print(f"\n[{flag}] {score:.3f} {item['question']}\n    -> {answer.answer[:300]}")


def _best_thresholds(answerable: list[float], unanswerable: list[float]) -> tuple[float, float, float]:
    candidates = sorted(set(answerable + unanswerable))
    scored = []
    for i, low in enumerate(candidates):
        high = candidates[i + 1] if i + 1 < len(candidates) else low + 0.01
        threshold = (low + high) / 2
        tpr = sum(s >= threshold for s in answerable) / len(answerable)
        tnr = sum(s < threshold for s in unanswerable) / len(unanswerable)
        scored.append(((tpr + tnr) / 2, low, high))
    top = max(b for b, _, _ in scored)
    ranges = [(low, high) for b, low, high in scored if b == top]
    return top, ranges[0][0], ranges[-1][1]


if __name__ == "__main__":
    main()
