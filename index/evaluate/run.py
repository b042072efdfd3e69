"""Evaluate answers on question/answer pairs: retrieval, citations, correctness, abstention, latency.

The items run through the same pipeline the bot uses. Metrics are means over the items
they apply to: retrieval over items with gold documents, correctness over answerable
items (an answerable question answered "not found" scores zero), abstention over all.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.evaluate.spans import exact_match, span_f1
from index.schema import Answer, Hit

MARKER = re.compile(r"\s*\[\d+\]")
# Higher is better for every metric but latency.
METRICS = ("hit_at_k", "mrr", "citation_precision", "citation_recall", "answer_contains", "answer_similarity",
           "abstention_accuracy", "answered_rate", "handled_right", "unanswerable_declined", "declined_closest_hold",
           "declined_nearest_hold",
           "span_exact_match", "span_f1")
WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class EvalItem:
    question: str
    id: str
    answer: str | None = None
    must_contain: tuple[str, ...] = ()
    gold_docs: tuple[str, ...] = ()
    unanswerable: bool = False


@dataclass
class ItemResult:
    id: str
    question: str
    unanswerable: bool
    found: bool
    answer: str
    expected: str | None
    gold_docs: list[str]
    cited_docs: list[str]
    retrieved_docs: list[str]
    hit: float | None = None
    reciprocal_rank: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    contains: float | None = None
    similarity: float | None = None
    abstention_correct: float = 0.0
    latency_ms: float = 0.0
    answer_words: int = 0  # length of a found answer, markers aside
    confidence: float = 0.0
    right_if_answered: bool | None = None  # would the best answer be right, whatever the threshold (plot, calibration)
    handled_right: float | None = None  # answered with an expected answer, or declined when unanswerable
    closest_hold: float | None = None  # answerable but declined: do the closest passages shown hold an expected answer?
    ranked_hold: float | None = None  # the same for as many passages in retrieval order (closest_hold's baseline)
    nearest_hold: float | None = None  # ... does the nearest sentence it quotes hold one (0: none quoted)?
    llm_written: int = 0  # with an LLM: sentences it wrote, judged by the support check
    llm_shown: int = 0  # of those, shown to the user
    llm_mode: bool = False  # the answer is the LLM's (else extractive, fallen back if it wrote any)
    shown_unquoted: int = 0  # shown LLM sentences with a number or name absent from their cited passages
    first_sentence_ms: float | None = None  # with an LLM: when its first checked sentence could be shown
    short_answer: str | None = None  # the reader's exact answer, when it gave one
    span_exact_match: float | None = None  # answered answerable: what is shown first (short answer, else the
    span_f1: float | None = None  # ... whole answer) against the expected answers, as SQuAD scores it


@dataclass
class LoadResult:
    items: list[EvalItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line 7: ..." for malformed input


def load_items(path: Path) -> LoadResult:
    """Items from JSONL, or CSV with the same columns (lists separated by '|')."""
    text = path.read_text(encoding="utf-8-sig")
    rows = _csv_rows(text) if path.suffix.lower() == ".csv" else _jsonl_rows(text)
    result = LoadResult()
    seen: set[str] = set()
    for line, row in rows:
        if isinstance(row, str):
            result.problems.append(f"line {line}: {row}")
            continue
        try:
            item = _item(row, default_id=f"line{line}")
        except (TypeError, ValueError) as error:
            result.problems.append(f"line {line}: {error}")
            continue
        if item.id in seen:
            result.problems.append(f"line {line}: duplicate id {item.id!r}")
            continue
        seen.add(item.id)
        result.items.append(item)
    return result


def _jsonl_rows(text: str) -> Iterable[tuple[int, dict[str, Any] | str]]:
    # Lines end at "\n" alone: splitlines() also cut at U+2028, U+2029 and NEL, which JSON written with
    # ensure_ascii=False keeps raw inside strings, so a vote or an item holding one was lost.
    for line, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            yield line, f"not valid JSON ({error.msg})"
            continue
        yield line, row if isinstance(row, dict) else "not a JSON object"


def _csv_rows(text: str) -> Iterable[tuple[int, dict[str, Any] | str]]:
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        cleaned = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        for key in ("must_contain", "gold_docs"):
            cleaned[key] = [part.strip() for part in cleaned.get(key, "").split("|") if part.strip()]
        cleaned["unanswerable"] = cleaned.get("unanswerable", "").lower() in ("1", "true", "yes")
        yield reader.line_num, {k: v for k, v in cleaned.items() if v not in ("", [])}


def _item(row: dict[str, Any], default_id: str) -> EvalItem:
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' is missing or empty")
    lists = {}
    for key in ("must_contain", "gold_docs"):
        value = row.get(key, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"'{key}' must be a list of strings")
        lists[key] = tuple(value)
    unanswerable = row.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise ValueError("'unanswerable' must be true or false")
    answer = row.get("answer")
    return EvalItem(question=question.strip(), id=str(row.get("id") or default_id),
                    answer=answer if isinstance(answer, str) and answer.strip() else None,
                    must_contain=lists["must_contain"], gold_docs=lists["gold_docs"], unanswerable=unanswerable)


Asker = Callable[[str], tuple[Answer, list[Hit] | list[str]]]
Similarity = Callable[[str, str], float]


def evaluate(items: list[EvalItem], ask: Asker, similarity: Similarity | None, k: int,
             progress: Callable[[Iterable[EvalItem]], Iterable[EvalItem]] = lambda x: x,
             threshold: float | None = None, not_found_text: str = "", streams: bool = False,
             decline: Callable[[str], Answer] | None = None) -> dict[str, Any]:
    """Run every item through `ask` (answer and ranked hits or document ids) and score it.

    With `streams`, `ask` takes `on_text` (an LLM's checked text so far), and the time to the first
    checked sentence is measured too.

    With a `threshold`, `ask` answers every question and the threshold is applied here, so
    the report also knows whether each declined answer would have been right: what the
    plot of answered-right against answered, and the calibration table, are drawn from.
    `decline` then gives the reply a user would get instead (the closest passages, which the
    report checks for an expected answer); without it the declined answer shows no passages.
    """
    results = []
    for item in progress(items):
        first: list[float] = []
        start = time.perf_counter()
        answer, ranked = ask(item.question, on_text=lambda _: first or first.append(time.perf_counter())) \
            if streams else ask(item.question)
        latency = (time.perf_counter() - start) * 1000
        retrieved = _ranked_docs(ranked)
        right = None if item.unanswerable or not item.must_contain else _contains(answer, item.must_contain)
        declined_here = threshold is not None and answer.found and answer.confidence < threshold
        if declined_here:
            answer = decline(item.question) if decline else replace(answer, found=False, answer=not_found_text,
                                                                    citations=())
        result = score_item(item, answer, retrieved, k, similarity, latency)
        if declined_here and decline is None:
            result.closest_hold = result.nearest_hold = None  # what a user would see is not known here
        elif result.closest_hold is not None:
            result.ranked_hold = _ranked_hold(ranked, len(answer.citations), item.must_contain)
        result.right_if_answered = False if item.unanswerable else right
        # Rounded as latency_ms is (score_item, summarise): at one place against two, a first sentence
        # just before the end read 26.5 ms of an answer that took 26.49.
        result.first_sentence_ms = round((first[0] - start) * 1000, 2) if first else None
        results.append(result)
    return {"k": k, "items": len(results), "threshold": threshold, "metrics": summarise(results),
            "results": [asdict(r) for r in results]}


def _ranked_hold(ranked: list[Hit] | list[str], shown: int, expected: tuple[str, ...]) -> float | None:
    """Would as many passages in retrieval order have held an expected answer (None: only ids are known)?"""
    if not all(isinstance(hit, Hit) for hit in ranked):
        return None
    return float(_holds(" ".join(hit.chunk.text for hit in ranked[:shown]), expected))


def _contains(answer: Answer, expected: tuple[str, ...]) -> bool:
    return answer.found and _holds(answer.answer, expected)


def _holds(text: str, expected: tuple[str, ...]) -> bool:
    return any(m.lower() in text.lower() for m in expected)


def _ranked_docs(ranked: list[Hit] | list[str]) -> list[str]:
    docs: list[str] = []
    for entry in ranked:
        doc_id = entry if isinstance(entry, str) else entry.chunk.doc_id
        if doc_id not in docs:
            docs.append(doc_id)
    return docs


def score_item(item: EvalItem, answer: Answer, retrieved: list[str], k: int, similarity: Similarity | None,
               latency_ms: float) -> ItemResult:
    gold = [g for g in item.gold_docs]
    cited = list(dict.fromkeys(c.doc_id for c in answer.citations)) if answer.found else []
    result = ItemResult(id=item.id, question=item.question, unanswerable=item.unanswerable, found=answer.found,
                        answer=answer.answer, expected=item.answer, gold_docs=gold, cited_docs=cited,
                        retrieved_docs=retrieved, latency_ms=round(latency_ms, 2),
                        answer_words=len(WORDS.findall(MARKER.sub("", answer.answer))) if answer.found else 0,
                        abstention_correct=float(answer.found != item.unanswerable),
                        confidence=answer.confidence)
    if gold and not item.unanswerable:
        ranks = [i for i, doc in enumerate(retrieved, 1) if _is_gold(doc, gold)]
        result.hit = float(bool(ranks) and ranks[0] <= k)
        result.reciprocal_rank = 1.0 / ranks[0] if ranks else 0.0
        matched = {g for g in gold if any(_is_gold(doc, [g]) for doc in cited)}
        result.citation_recall = len(matched) / len(gold)
        if cited:
            result.citation_precision = sum(_is_gold(doc, gold) for doc in cited) / len(cited)
    if item.must_contain and not item.unanswerable:
        result.contains = float(_contains(answer, item.must_contain))
    if item.must_contain and not item.unanswerable and answer.found:
        shown_first = answer.span.text if answer.span is not None else MARKER.sub("", answer.answer)
        result.short_answer = answer.span.text if answer.span is not None else None
        result.span_exact_match = exact_match(shown_first, item.must_contain)
        result.span_f1 = round(span_f1(shown_first, item.must_contain), 4)
    if item.must_contain and not item.unanswerable and not answer.found:
        result.closest_hold = float(_holds(" ".join(c.quote for c in answer.citations), item.must_contain))
        result.nearest_hold = float(bool(answer.nearest) and _holds(answer.nearest, item.must_contain))
    if item.unanswerable:
        result.handled_right = float(not answer.found)
    elif result.contains is not None:
        result.handled_right = result.contains
    if answer.sentences and answer.found:  # a declined answer shows nothing, whatever the LLM wrote
        result.llm_written, result.llm_mode = len(answer.sentences), answer.mode == "llm"
        shown = [c for c in answer.sentences if c.supported] if result.llm_mode else []
        result.llm_shown = len(shown)
        quotes = " ".join(f"{c.title} {c.quote}" for c in answer.citations).lower()
        result.shown_unquoted = sum(1 for c in shown if _unquoted(c.text, quotes))
    if item.answer and not item.unanswerable and similarity is not None:
        result.similarity = round(similarity(MARKER.sub("", answer.answer), item.answer), 4) if answer.found else 0.0
    return result


def _unquoted(sentence: str, quotes: str) -> bool:
    """A plain check beside index.answer.support's: a number or capitalised word the cited passages lack."""
    return any(word.lower() not in quotes for word in re.findall(r"\d+|(?<=\w )[A-Z][\w-]+", sentence))


def _is_gold(doc_id: str, gold: list[str]) -> bool:
    """A gold entry names a document by its id or its file name."""
    return any(doc_id == g or doc_id.rsplit("/", 1)[-1] == g for g in gold)


def summarise(results: list[ItemResult]) -> dict[str, float | None]:
    def mean(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return round(statistics.fmean(present), 4) if present else None

    answerable = [r for r in results if not r.unanswerable]
    latencies = [r.latency_ms for r in results]
    return {**_llm_summary(results), 
        "hit_at_k": mean([r.hit for r in results]),
        "mrr": mean([r.reciprocal_rank for r in results]),
        "citation_precision": mean([r.citation_precision for r in results]),
        "citation_recall": mean([r.citation_recall for r in results]),
        "answer_contains": mean([r.contains for r in results]),
        "answer_similarity": mean([r.similarity for r in results]),
        "abstention_accuracy": mean([r.abstention_correct for r in results]),
        "answered_rate": mean([float(r.found) for r in answerable]),
        "handled_right": mean([r.handled_right for r in results]),
        "unanswerable_declined": mean([float(not r.found) for r in results if r.unanswerable]),
        "declined_closest_hold": mean([r.closest_hold for r in results]),
        "declined_ranked_hold": mean([r.ranked_hold for r in results]),
        "declined_nearest_hold": mean([r.nearest_hold for r in results]),
        "span_exact_match": mean([r.span_exact_match for r in results]),
        "span_f1": mean([r.span_f1 for r in results]),
        "short_answer_rate": mean([float(r.short_answer is not None) for r in results if r.span_f1 is not None]),
        "answer_words": mean([float(r.answer_words) for r in results if r.found]),
        "latency_p50_ms": round(percentile(latencies, 0.5), 2) if latencies else None,
        "latency_p95_ms": round(percentile(latencies, 0.95), 2) if latencies else None,
    }


def _llm_summary(results: list[ItemResult]) -> dict[str, float]:
    """With an LLM: how often it answered or fell back, and what reached the user (nothing without one)."""
    asked = [r for r in results if r.llm_written]
    if not asked:
        return {}
    written = sum(r.llm_written for r in asked)
    firsts = [r.first_sentence_ms for r in asked if r.first_sentence_ms is not None]
    return {"llm_first_sentence_p50_ms": round(percentile(firsts, 0.5), 2) if firsts else None,
            "llm_answered": round(sum(r.llm_mode for r in asked) / len(asked), 4),
            "llm_fell_back": round(sum(not r.llm_mode for r in asked) / len(asked), 4),
            "llm_sentences_shown": round(sum(r.llm_shown for r in asked) / written, 4),
            "llm_shown_unquoted": float(sum(r.shown_unquoted for r in asked))}


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: `share` 0.5 is the median, 0.95 the p95."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def embedding_similarity(encode: Callable[[list[str]], np.ndarray]) -> Similarity:
    """Cosine of the two texts' embeddings (the encoder normalises them)."""
    def similarity(got: str, expected: str) -> float:
        vectors = encode([got, expected])
        return float(np.dot(vectors[0], vectors[1]))

    return similarity


def feedback_log_entries(log_path: Path) -> list[dict[str, Any]]:
    """The votes of the bot's feedback log file; a line cut short by a crash is skipped."""
    entries = []
    for line in log_path.read_text(encoding="utf-8").split("\n"):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def latest_votes(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries, each voter's last vote on an answer alone (a 👎 changed to 👍 is no longer a 👎); entries
    without an answer id and voter (logs written before they were kept) all count."""
    kept = [entry for entry in entries if isinstance(entry, dict)]
    keys = [(entry.get("answer_id"), entry.get("voter")) for entry in kept]
    last = {key: position for position, key in enumerate(keys) if all(key)}
    return [entry for position, (entry, key) in enumerate(zip(kept, keys)) if not all(key) or last[key] == position]


def feedback_candidates(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """👎-voted answers from the bot's feedback, each voter's last vote counted, as eval items to complete."""
    candidates, seen = [], set()
    for entry in latest_votes(entries):
        if not isinstance(entry, dict) or entry.get("vote") != "down" or entry.get("question") in seen:
            continue
        seen.add(entry["question"])
        candidates.append({"id": f"feedback-{len(candidates) + 1}", "question": entry["question"],
                           "answer": "", "must_contain": [], "gold_docs": [], "unanswerable": False,
                           "got": entry.get("answer", ""),
                           "got_cited": sorted({c.get("doc_id", "") for c in entry.get("citations", [])})})
    return candidates
