"""What a threshold trades: answered-right against answered, and stated confidence against observed accuracy.

Drawn from an eval report whose answers were all scored, declined ones included
(index.evaluate.run with a threshold), so every threshold can be read off one run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

BINS = 5


def _arrays(report: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [r for r in report["results"] if r.get("right_if_answered") is not None]
    confidence = np.asarray([r["confidence"] for r in rows], dtype=float)
    right = np.asarray([bool(r["right_if_answered"]) for r in rows])
    unanswerable = np.asarray([r["unanswerable"] for r in rows])
    return confidence, right, unanswerable


def curve(report: dict[str, Any]) -> list[tuple[float, float, float, float]]:
    """(threshold, share answered, share answered right, share handled right) as the threshold falls."""
    confidence, right, unanswerable = _arrays(report)
    points = []
    for threshold in np.unique(np.concatenate([confidence, [0.0, 1.01]]))[::-1]:
        answered = confidence >= threshold
        handled = np.where(answered, right, unanswerable)
        points.append((float(threshold), float(answered.mean()), float((answered & right).mean()),
                       float(handled.mean())))
    return points


def calibration_rows(report: dict[str, Any]) -> list[dict[str, float]]:
    """Stated confidence against the share of those answers that are right, in equal-width bins."""
    confidence, right, _ = _arrays(report)
    return calibration_bins(confidence, right)


def calibration_bins(confidence: np.ndarray, right: np.ndarray) -> list[dict[str, float]]:
    """Per equal-width bin of confidence: how many, the mean confidence stated, the share right."""
    rows = []
    edges = np.linspace(0, 1, BINS + 1)
    for low, high in zip(edges, edges[1:]):
        inside = (confidence >= low) & ((confidence < high) | (high == 1.0))
        if inside.any():
            rows.append({"from": round(float(low), 2), "to": round(float(high), 2), "questions": int(inside.sum()),
                         "stated": round(float(confidence[inside].mean()), 3),
                         "observed": round(float(right[inside].mean()), 3)})
    return rows


def calibration_markdown(report: dict[str, Any]) -> list[str]:
    lines = ["## Calibration", "", "| confidence | questions | stated (mean) | observed right |", "|---|---|---|---|"]
    for row in calibration_rows(report):
        lines.append(f"| {row['from']:.1f}–{row['to']:.1f} | {row['questions']} | {row['stated']:.2f} | "
                     f"{row['observed']:.2f} |")
    return lines


def write_plot(report: dict[str, Any], path: Path, title: str) -> Path:
    """A PNG: answered-right and handled-right against answered, the report's threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = curve(report)
    answered = [p[1] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.plot(answered, [p[2] for p in points], label="answered right (share of all questions)")
    left.plot(answered, [p[3] for p in points], label="handled right (right answer, or declined when unanswerable)")
    left.plot([0, 1], [0, 1], color="grey", linewidth=0.5, linestyle=":")
    threshold = report.get("threshold")
    if threshold is not None:
        chosen = min(points, key=lambda p: abs(p[0] - threshold) if p[0] >= threshold else 2 + p[0])
        left.scatter([chosen[1]], [chosen[3]], color="red", zorder=3)
        left.annotate(f"threshold {threshold:.2f}: handled right {chosen[3]:.2f}", (chosen[1], chosen[3]),
                      textcoords="offset points", xytext=(-10, 10), ha="right", color="red")
    left.set(xlabel="share of questions answered", ylabel="share of questions", xlim=(0, 1), ylim=(0, 1),
             title=title)
    left.legend(loc="lower right", fontsize=8)
    rows = calibration_rows(report)
    right.bar([(r["from"] + r["to"]) / 2 for r in rows], [r["observed"] for r in rows], width=0.18,
              label="observed share right")
    right.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for r in rows:
        right.annotate(str(r["questions"]), ((r["from"] + r["to"]) / 2, r["observed"]), ha="center",
                       textcoords="offset points", xytext=(0, 3), fontsize=8)
    right.set(xlabel="stated confidence", ylabel="share right", xlim=(0, 1), ylim=(0, 1),
              title="Calibration (questions per bin)")
    right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
