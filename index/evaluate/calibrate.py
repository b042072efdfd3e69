"""An owner's own threshold: chosen on their labelled questions by `citebot eval FILE --calibrate`.

The shipped threshold was chosen on the bundled corpus's questions; a corpus unlike it (other
topics, other writing) can want another. The owner's labelled questions are answered as the
bot would, and the threshold that handles the most of them right (answerable and unanswerable
weighing half each, answering at least 70% of the answerable: index.evaluate.threshold.best_threshold)
is written beside the index, where every later `citebot ask`, chat and bot process reads it.
CITEBOT_MIN_CONFIDENCE still wins.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
FILE = "threshold.json"
MIN_ANSWERABLE, MIN_UNANSWERABLE = 20, 10  # fewer, and the threshold is a draw (README, "Answer quality")


class TooFewLabelled(ValueError):
    """Not enough labelled questions of each kind to choose a threshold on."""


def threshold_path(index_dir: Path) -> Path:
    return index_dir / FILE


def choose(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The threshold for these eval results (`citebot eval`'s per-item rows), and what it does on them."""
    from index.evaluate.threshold import best_threshold, handled

    judged = [r for r in results if r["unanswerable"] or r["right_if_answered"] is not None]
    answerable = np.asarray([not r["unanswerable"] for r in judged])
    if answerable.sum() < MIN_ANSWERABLE or (~answerable).sum() < MIN_UNANSWERABLE:
        raise TooFewLabelled(f"--calibrate needs at least {MIN_ANSWERABLE} answerable questions with must_contain "
                             f"and {MIN_UNANSWERABLE} marked unanswerable; got {int(answerable.sum())} and "
                             f"{int((~answerable).sum())}")
    confidence = np.asarray([r["confidence"] for r in judged])
    correct = np.asarray([bool(r["right_if_answered"]) for r in judged])
    threshold = best_threshold(confidence, correct, answerable)
    return {"threshold": threshold, "questions": len(judged), "unanswerable": int((~answerable).sum()),
            "handled_right": handled(confidence, correct, answerable, threshold)}


def write(index_dir: Path, chosen: dict[str, Any], source: Path) -> Path:
    path = threshold_path(index_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**chosen, "from": str(source), "written": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def read(index_dir: Path) -> float | None:
    """The owner's threshold, if one was written and is readable; a damaged file is logged and ignored."""
    path = threshold_path(index_dir)
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["threshold"]
        if isinstance(value, (int, float)) and 0 <= value <= 1:
            return float(value)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    log.warning("ignoring %s: not a threshold written by `citebot eval --calibrate`", path)
    return None
