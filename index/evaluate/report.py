"""Presenting an evaluation: the terminal table, the Markdown report, comparisons and thresholds."""

from __future__ import annotations

from typing import Any

from index.evaluate.run import METRICS
from index.evaluate.significance import paired_difference, share_interval

# Per-question outcomes whose change between two reports gets an interval (JSON field, label).
PAIRED = (("handled_right", "handled right"), ("abstention_correct", "abstention"), ("contains", "expected text"))

LABELS = {
    "hit_at_k": "retrieval hit@k",
    "mrr": "retrieval MRR",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "answer_contains": "answer contains expected",
    "answer_similarity": "answer similarity",
    "abstention_accuracy": "abstention accuracy",
    "answered_rate": "answerable answered",
    "handled_right": "handled right",
    "unanswerable_declined": "unanswerable declined",
    # Of the answerable questions declined: the closest passages the reply shows hold an expected answer.
    "declined_closest_hold": "declined, shown hold answer",
    "declined_ranked_hold": "  as many in retrieval order",
    "declined_nearest_hold": "  nearest sentence holds it",
    # Of the answerable questions answered: what is shown first (the short answer, else the whole answer).
    "span_exact_match": "shown first: exact match",
    "span_f1": "shown first: F1",
    "short_answer_rate": "  short answer given",
    "answer_words": "words per answer",
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
    # With an LLM only (CITEBOT_LLM_*): of the answers it was asked to word,
    "llm_answered": "LLM worded the answer",
    "llm_first_sentence_p50_ms": "LLM first sentence p50 (ms)",
    "llm_fell_back": "LLM refused, extractive",
    "llm_sentences_shown": "LLM sentences shown",
    "llm_shown_unquoted": "shown, name/number unquoted",
}


def _present(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The metrics this report has: the LLM's appear only when it was asked."""
    return [(key, label) for key, label in LABELS.items() if key in report["metrics"]]


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}" if value <= 1.0 else f"{value:.1f}"


def _label(report: dict[str, Any], default: str) -> str:
    """A column's name: "with LLM" and "extractive" for `citebot eval --llm`."""
    return report.get("label", default)


def table(report: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """Metrics as aligned text, with the baseline beside them when given."""
    header = f"{'metric':28s} {_label(report, 'citebot'):>10s}" + \
        (f" {_label(baseline, 'baseline'):>10s}" if baseline else "")
    lines = [f"{report['items']} items, k={report['k']}", header, "-" * len(header)]
    for key, label in _present(report):
        row = f"{label:28s} {_cell(report['metrics'][key]):>10s}"
        if baseline:
            row += f" {_cell(baseline['metrics'].get(key)):>10s}"
        lines.append(row)
    interval = handled_right_interval(report)
    return "\n".join(lines + ([interval] if interval else []))


def worst_items(report: dict[str, Any], count: int = 10) -> list[dict[str, Any]]:
    """Items that went wrong, worst first: wrong abstention, then missing expected text, then low similarity."""
    def badness(result: dict[str, Any]) -> tuple[float, float, float]:
        return (result["abstention_correct"], 1.0 if result["contains"] is None else result["contains"],
                1.0 if result["similarity"] is None else result["similarity"])

    wrong = [r for r in report["results"] if badness(r) != (1.0, 1.0, 1.0) and badness(r)[:2] != (1.0, 1.0)]
    return sorted(wrong, key=badness)[:count]


def markdown(report: dict[str, Any], baseline: dict[str, Any] | None = None, worst: int = 10,
             extra: list[str] | None = None) -> str:
    """The report as Markdown; `extra` lines (a calibration table, a plot) go between the metrics and the worst items."""
    lines = ["# Evaluation", "", f"{report['items']} items, k={report['k']}.", "",
             f"| metric | {_label(report, 'citebot')} |" + (f" {_label(baseline, 'baseline')} |" if baseline else ""),
             "|---|---|" + ("---|" if baseline else "")]
    for key, label in _present(report):
        row = f"| {label} | {_cell(report['metrics'][key])} |"
        lines.append(row + (f" {_cell(baseline['metrics'].get(key))} |" if baseline else ""))
    interval = handled_right_interval(report)
    lines += (["", interval[0].upper() + interval[1:] + "."] if interval else [])
    lines += (["", *extra] if extra else []) + ["", "## Worst items", ""]
    for result in worst_items(report, worst):
        expected = "not found" if result["unanswerable"] else (result["expected"] or "(no reference)")
        lines += [f"### {result['id']}: {result['question']}", "",
                  f"- expected: {expected}", f"- got: {result['answer']}",
                  f"- cited: {', '.join(result['cited_docs']) or 'nothing'}",
                  f"- gold: {', '.join(result['gold_docs']) or 'none'}", ""]
    return "\n".join(lines)


def compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, int, int]:
    """What got better and worse, item by item; returns the text and the counts."""
    old_results = {r["id"]: r for r in old["results"]}
    lines, better, worse = [], 0, 0
    for result in new["results"]:
        before = old_results.get(result["id"])
        if before is None:
            continue
        for key, label in (("abstention_correct", "abstention"), ("contains", "expected text"), ("hit", "retrieval")):
            was, now = before.get(key), result.get(key)
            if was is None or now is None or was == now:
                continue
            better, worse = better + (now > was), worse + (now < was)
            lines.append(f"{'better' if now > was else 'WORSE ':6s} {result['id']}: {label} "
                         f"{_cell(was)} → {_cell(now)}  ({result['question']})")
    lines.append("")
    for key in METRICS:
        was, now = old["metrics"].get(key), new["metrics"].get(key)
        if was is not None and now is not None and was != now:
            lines.append(f"{LABELS[key]:28s} {_cell(was)} → {_cell(now)} ({now - was:+.3f})")
    lines.append(f"{better} item changes better, {worse} worse")
    lines += paired_changes(old, new)
    return "\n".join(lines), better, worse


def paired_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Each outcome's change over the questions both reports judged, and whether chance could explain it."""
    before = {r["id"]: r for r in old["results"]}
    lines = []
    for key, label in PAIRED:
        pairs = [(before[r["id"]][key], r[key]) for r in new["results"]
                 if r["id"] in before and before[r["id"]].get(key) is not None and r.get(key) is not None]
        if pairs:
            change = paired_difference([was for was, _ in pairs], [now for _, now in pairs])
            lines.append(f"{label + ', paired':28s} {change.describe_change()}")
    return lines


def handled_right_interval(report: dict[str, Any]) -> str | None:
    """"handled right" with its 95% interval: on a few dozen questions it is wide."""
    outcomes = [r["handled_right"] for r in report["results"] if r.get("handled_right") is not None]
    return f"handled right {share_interval(outcomes).describe_share()}" if outcomes else None


def parse_thresholds(rules: list[str]) -> dict[str, float]:
    """`metric=value` pairs, naming metrics as in the JSON report."""
    thresholds = {}
    for rule in rules:
        name, sep, value = rule.partition("=")
        if not sep or name.strip() not in METRICS:
            raise ValueError(f"--fail-under takes metric=value with a metric among {', '.join(METRICS)}; got {rule!r}")
        thresholds[name.strip()] = float(value)
    return thresholds


def below_thresholds(metrics: dict[str, float | None], thresholds: dict[str, float]) -> list[str]:
    return [f"{name} {_cell(metrics.get(name))} is under {limit}" for name, limit in thresholds.items()
            if metrics.get(name) is None or metrics[name] < limit]
