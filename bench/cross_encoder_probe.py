"""Does a cross-encoder know when a paragraph does not answer? The setting of ../shared/notes/answer-selection.md.

The note found a cross-encoder fine-tuned from the bundled MiniLM weights ((question, sentence) →
holds an answer?, three epochs, binary cross-entropy) handled 0.662 right against the bi-encoder
cosine's 0.555, mostly by declining more look-alikes. This reruns that setting on the development
articles alone: the gold paragraph is given (retrieval left out), the model is fitted on four of the
six SQuAD development articles and judged on the other two, beside the cosine of the same bundled
model. Each scorer's threshold is the best one on the judged articles, so both figures are optimistic
alike. The report articles are never read.

    .venv/bin/python bench/cross_encoder_probe.py [--lr 3e-5] [--epochs 3]
    (about 11 minutes on 2 CPU cores; a GPU is used when torch sees one)
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.train_command import SQUAD  # noqa: E402
from index.embed.embedder import bundled_model_path  # noqa: E402
from index.evaluate.datasets import load_splits  # noqa: E402
from index.evaluate.train import holds  # noqa: E402
from index.ingest.chunking import quotable_units  # noqa: E402

BATCH, MAX_TOKENS = 16, 128


def questions(articles: list[dict], titles: set[str]) -> list[tuple[str, list[str], list[bool], bool]]:
    """(question, its paragraph's units, which hold an answer, answerable) for the articles named."""
    found = []
    for article in articles:
        if article["title"] not in titles:
            continue
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            units = [context[start:end] for start, end in quotable_units(context)]
            for qa in paragraph["qas"]:
                answers = tuple(a["text"] for a in qa["answers"])
                answerable = bool(answers) and not qa.get("is_impossible", False)
                found.append((qa["question"], units, [answerable and holds(u, answers) for u in units], answerable))
    return found


def fine_tune(pairs: list[tuple[str, str, float]], lr: float, epochs: int, device: str):
    """A cross-encoder from the bundled weights: a fresh one-logit head, AdamW, linear warm-up and decay."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    rng = random.Random(0)
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    model = AutoModelForSequenceClassification.from_pretrained(bundled_model_path(), num_labels=1).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(pairs) / BATCH)
    warm = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda i: min(1.0, (i + 1) / warm) * max(0.0, (steps - i) / max(1, steps - warm)))
    loss_of = torch.nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(epochs):
        rng.shuffle(pairs)
        for at in range(0, len(pairs), BATCH):
            batch = pairs[at:at + BATCH]
            encoded = tokenizer([p[0] for p in batch], [p[1] for p in batch], truncation=True,
                                max_length=MAX_TOKENS, padding=True, return_tensors="pt").to(device)
            loss = loss_of(model(**encoded).logits.squeeze(-1), torch.tensor([p[2] for p in batch], device=device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
    model.eval()

    def score(question: str, units: list[str]) -> np.ndarray:
        with torch.no_grad():
            encoded = tokenizer([question] * len(units), units, truncation=True, max_length=MAX_TOKENS,
                                padding=True, return_tensors="pt").to(device)
            return model(**encoded).logits.squeeze(-1).float().cpu().numpy()
    return score


def cosine_scorer():
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(bundled_model_path(), device="cpu")

    def score(question: str, units: list[str]) -> np.ndarray:
        vectors = model.encode([question, *units], normalize_embeddings=True)
        return vectors[1:] @ vectors[0]
    return score


def judged(score, judged_questions: list) -> str:
    """Handled right at the scorer's best threshold: answered with a unit holding an answer, or declined."""
    top, right, answerable = [], [], []
    for question, units, labels, is_answerable in judged_questions:
        scores = score(question, units)
        best = int(np.argmax(scores))
        top.append(float(scores[best]))
        right.append(bool(labels[best]))
        answerable.append(is_answerable)
    top, right, answerable = np.asarray(top), np.asarray(right), np.asarray(answerable)
    outcomes = [(float(np.where(top >= t, answerable & right, ~answerable).mean()), t)
                for t in np.quantile(top, np.linspace(0, 1, 201))]
    share, threshold = max(outcomes)
    answered = top >= threshold
    return (f"handled right {share:.3f}; answerable answered with a right unit {(answered & right)[answerable].mean():.3f}, "
            f"unanswerable declined {(~answered[~answerable]).mean():.3f}; best unit right "
            f"{right[answerable].mean():.3f} ({len(top)} questions)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(2)
    articles = json.loads((ROOT / SQUAD).read_text(encoding="utf-8"))["data"]
    report = {doc.removesuffix(".txt") for doc in load_splits()}
    development = sorted(a["title"] for a in articles if a["title"] not in report)
    fitted, held = set(development[:-2]), set(development[-2:])
    fit_questions, held_questions = questions(articles, fitted), questions(articles, held)
    pairs = [(q, unit, float(label)) for q, units, labels, _ in fit_questions for unit, label in zip(units, labels)]
    print(f"fitted on {sorted(fitted)}: {len(fit_questions)} questions, {len(pairs)} pairs; "
          f"judged on {sorted(held)}", flush=True)
    print("MiniLM cosine:", judged(cosine_scorer(), held_questions), flush=True)
    start = time.perf_counter()
    cross_encoder = fine_tune(pairs, args.lr, args.epochs, device)
    print(f"cross-encoder (lr {args.lr}, {args.epochs} epochs, {time.perf_counter() - start:.0f} s on {device}):",
          judged(cross_encoder, held_questions), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
