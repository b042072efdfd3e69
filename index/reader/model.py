"""The span reader at answer time: an int8 ONNX model run by ONNX Runtime, never torch.

`Reader.load` checks the folder as the answer scorer's loader does: the card's format, the
model's inputs and outputs, and a read of a known question, so a damaged or foreign file is
refused with one line at start instead of reading nonsense later.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.reader.windows import Window, batch_arrays, best_spans, windows

FORMAT = 1
CARD, MODEL, TOKENIZER = "reader.json", "model.onnx", "tokenizer.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("start_logits", "end_logits")
DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "models" / "reader"


class ReaderError(Exception):
    """A reader folder that cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Read:
    """The reader's best span in one text: character offsets, its score, and how far it beats 'no answer'."""

    start: int
    end: int
    score: float
    margin: float  # best span score minus the no-answer score; > the card's threshold: the text answers

    @property
    def empty(self) -> bool:
        return self.end <= self.start


class Reader:
    """Reads a question against texts; safe to call from several threads (ONNX Runtime sessions are)."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.folder = folder
        self.card = _card(folder)
        self.max_tokens: int = self.card["max_tokens"]
        self.overlap: int = self.card["overlap"]
        self.threshold: float = self.card["threshold"]  # over it, a text answers the question
        # over it, the span is a better first line than its sentence (index.reader.tune)
        self.span_threshold: float = self.card.get("span_threshold", self.threshold)
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as the query encoder: see there
        self._session = onnxruntime.InferenceSession(str(folder / MODEL), options, providers=["CPUExecutionProvider"])
        names = ([i.name for i in self._session.get_inputs()], [o.name for o in self._session.get_outputs()])
        if tuple(sorted(names[0])) != tuple(sorted(INPUTS)) or tuple(names[1]) != OUTPUTS:
            raise ReaderError(f"{folder / MODEL} is not a span reader (inputs {names[0]}, outputs {names[1]})")

    @classmethod
    def load(cls, folder: Path = DEFAULT_FOLDER, threads: int | None = None) -> Reader:
        try:
            reader = cls(folder, threads)
        except ReaderError:
            raise
        except Exception as error:  # noqa: BLE001 - onnxruntime and tokenizers raise their own types
            raise ReaderError(f"cannot load the reader in {folder} ({type(error).__name__}: {error})") from None
        reader._check()
        return reader

    def identity(self) -> dict[str, Any]:
        """What tells this reader's margins from another's: its model file's hash, and the recipe that made it."""
        import hashlib

        digest = hashlib.sha256((self.folder / MODEL).read_bytes()).hexdigest()
        return {"model_sha256": digest, "recipe": self.card.get("training", {}).get("recipe", {}).get("name")}

    def read(self, question: str, texts: list[str], quotable_from: list[int] | None = None) -> list[Read]:
        """The best span of each text (over its windows), in the order given; `quotable_from`: for each text, the
        character where the text to answer with starts (a heading before it is read, never answered with)."""
        rows: list[Window] = []
        owners: list[int] = []
        for number, text in enumerate(texts):
            for window in windows(self._tokenizer, question, text, self.max_tokens, self.overlap):
                rows.append(window)
                owners.append(number)
        if not rows:
            return []
        start_logits, end_logits = self._session.run(list(OUTPUTS), batch_arrays(rows))
        quotable = [quotable_from[number] for number in owners] if quotable_from else None
        spans = best_spans(rows, start_logits, end_logits, quotable)
        reads: dict[int, Read] = {}  # windows() gives every text at least one window
        for row, owner in enumerate(owners):
            margin = spans.scores[row] - spans.null_scores[row]
            if owner not in reads or margin > reads[owner].margin:
                reads[owner] = Read(spans.starts[row], spans.ends[row], spans.scores[row], margin)
        return [reads[number] for number in range(len(texts))]

    def _check(self) -> None:
        """A read of the card's own check question must find the card's answer in its text."""
        check = self.card.get("check")
        if not check:
            raise ReaderError("the reader's card has no check question")
        found = self.read(check["question"], [check["text"]])[0]
        if check["text"][found.start : found.end] != check["answer"]:
            raise ReaderError(f"the reader does not read its own check question right "
                              f"({check['text'][found.start : found.end]!r}, not {check['answer']!r}): "
                              "the model file is damaged or not the card's")


def _card(folder: Path) -> dict[str, Any]:
    path = folder / CARD
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ReaderError(f"cannot read the reader's card {path} ({error})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ReaderError(f"{path} is not a reader card of format {FORMAT}")
    for key in ("max_tokens", "overlap", "threshold"):
        if not isinstance(card.get(key), (int, float)):
            raise ReaderError(f"{path} has no {key}")
    return card

