"""Turn trained reader weights into what the bot runs: an int8 ONNX model, its tokenizer and its card.

`python -m index.reader.export WEIGHTS_DIR --squad2 FILE --out index/models/reader` (the second
half of `make train-reader`). The threshold on the no-answer margin is chosen here, on the
int8 model as shipped, from the development articles of the SQuAD 2.0 set: real, human-written
unanswerable questions the reader never trained on. The report articles (eval/splits.json)
are not read.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from index.evaluate.datasets import DEFAULT_SPLITS, load_splits
from index.evaluate.spans import exact_match, span_f1
from index.reader.examples import examples, read_squad
from index.reader.model import CARD, FORMAT, MODEL, OUTPUTS, TOKENIZER, Reader
from index.reader.unsigned import rewrite_unsigned

RIGHT_F1 = 0.5  # an answered answerable question counts as right when its span's F1 reaches this
MAX_MB = 30
PRECISION = "int8 (onnxruntime dynamic quantisation), weights stored as uint8 (index.reader.unsigned)"


def export(weights: Path, out: Path) -> Path:
    """weights/ (safetensors, any precision) -> out/model.onnx in int8, beside the MiniLM tokenizer."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForQuestionAnswering

    from index.reader.train import default_base

    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model = AutoModelForQuestionAnswering.from_pretrained(str(weights), dtype=torch.float32).eval()
    sample = {name: torch.ones((1, 16), dtype=torch.int64)
              for name in ("input_ids", "attention_mask", "token_type_ids")}
    full = staging / "model-fp32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_logits_module(model), tuple(sample.values()), str(full), input_names=list(sample),
                          output_names=list(OUTPUTS), opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in (*sample, *OUTPUTS)})
    quantize_dynamic(str(full), str(staging / MODEL), weight_type=QuantType.QInt8)
    rewrite_unsigned(staging / MODEL)
    full.unlink()
    shutil.copy(default_base() / TOKENIZER, staging / TOKENIZER)
    return staging


def _logits_module(model: Any) -> Any:
    import torch

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return output.start_logits, output.end_logits

    return Logits().eval()


def validate(reader: Reader, squad2: Path, report: frozenset[str]) -> dict[str, Any]:
    """Read every development question of the SQuAD 2.0 set against its own paragraph; choose the threshold."""
    articles = [a for a in read_squad(squad2) if f"{a['title']}.txt" not in report]
    found = examples(articles)
    answers = _gold_answers(articles)
    started = time.monotonic()
    reads = [reader.read(e.question, [e.context])[0] for e in found]
    seconds = time.monotonic() - started
    answerable = np.asarray([e.answerable for e in found])
    margins = np.asarray([r.margin for r in reads])
    f1 = np.asarray([span_f1(e.context[r.start : r.end], answers[e.question, e.context]) if e.answerable else 0.0
                     for e, r in zip(found, reads)])
    em = np.asarray([exact_match(e.context[r.start : r.end], answers[e.question, e.context]) if e.answerable else 0.0
                     for e, r in zip(found, reads)])
    threshold, balanced = _best_threshold(margins, answerable, f1 >= RIGHT_F1)
    answered = margins > threshold
    check = next(e for e, r, hit in zip(found, reads, em) if hit and e.context[r.start : r.end] == e.answer)
    return {
        "threshold": round(float(threshold), 4),
        "check": {"question": check.question, "text": check.context, "answer": check.answer},
        "validation": {
            "articles": sorted(a["title"] for a in articles), "questions": len(found),
            "unanswerable": int((~answerable).sum()),
            "forced_exact_match": round(float(em[answerable].mean()), 4),
            "forced_f1": round(float(f1[answerable].mean()), 4),
            "balanced_handled_right": round(balanced, 4),
            "handled_right": round(float(np.mean(np.where(answerable, answered & (f1 >= RIGHT_F1), ~answered))), 4),
            "answerable_answered": round(float(answered[answerable].mean()), 4),
            "unanswerable_declined": round(float((~answered[~answerable]).mean()), 4),
            "answered_f1": round(float(f1[answerable & answered].mean()) if (answerable & answered).any() else 0.0, 4),
            "ms_per_question": round(1000 * seconds / max(1, len(found)), 1),
        },
    }


def _gold_answers(articles: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(qa["question"].strip(), p["context"]): tuple(a["text"] for a in qa.get("answers", []))
            for a in articles for p in a["paragraphs"] for qa in p["qas"]}


def _best_threshold(margins: np.ndarray, answerable: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """The margin above which to answer that handles the most questions right, either kind weighing half."""
    best = (0.0, -1.0)
    for threshold in np.unique(np.quantile(margins, np.linspace(0.0, 1.0, 201))):
        answered = margins > threshold
        score = 0.5 * float((answered & right)[answerable].mean()) + 0.5 * float((~answered[~answerable]).mean())
        if score > best[1]:
            best = (float(threshold), score)
    return best


def write_card(staging: Path, weights: Path, out: Path, figures: dict[str, Any]) -> None:
    import onnx
    import onnxruntime

    training = json.loads((weights / "training.json").read_text(encoding="utf-8"))
    recipe = training["recipe"]
    size = (staging / MODEL).stat().st_size
    if size > MAX_MB * 2**20:
        raise SystemExit(f"the reader's model is {size / 2**20:.1f} MB, over {MAX_MB} MB")
    card = {"format": FORMAT, "max_tokens": recipe["max_tokens"], "overlap": recipe["overlap"], **figures,
            "model": {"file": MODEL, "bytes": size, "precision": PRECISION},
            "training": training, "export_versions": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
            "split": "fit: squad-train articles; threshold and figures: the development articles of squad2-train8 "
                     "(eval/splits.json's report articles are never read)"}
    (staging / CARD).write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.reader.export", description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="folder index.reader.train wrote")
    parser.add_argument("--squad2", type=Path, required=True, help="the SQuAD 2.0 set whose development articles "
                        "choose the threshold")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    staging = export(args.weights, args.out)
    draft = {"format": FORMAT, "max_tokens": 0, "overlap": 0, "threshold": 0.0}
    recipe = json.loads((args.weights / "training.json").read_text(encoding="utf-8"))["recipe"]
    draft.update(max_tokens=recipe["max_tokens"], overlap=recipe["overlap"])
    (staging / CARD).write_text(json.dumps(draft), encoding="utf-8")
    figures = validate(Reader(staging), args.squad2, load_splits(DEFAULT_SPLITS))
    write_card(staging, args.weights, args.out, figures)
    Reader.load(args.out)  # as the bot will: the check question read right
    print(json.dumps(figures["validation"], indent=1))
    print(f"reader: wrote {args.out / MODEL} and {args.out / CARD}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
