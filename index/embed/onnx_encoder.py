"""The embedding model run by ONNX Runtime, from a copy exported next to the index.

It gives torch's vectors (cosine above 0.9999, checked at export), and a process that
only answers needs onnxruntime and tokenizers (0.4 s to import) instead of torch and
sentence-transformers (5-6 s). Which embeds faster depends on the CPU: ONNX Runtime did
1.6 times torch's passages per second on a 2-core AMD EPYC, 0.7 times on a 2-core Intel
Xeon with AVX-512 (BENCHMARKS.md section 1). `citebot index` exports the model once with
torch; everything after runs on the export when it matches the configured model, and on
sentence-transformers otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embed.embedder import pool_spans, progress_bar
from index.schema import Span

log = logging.getLogger(__name__)
FOLDER = "query-encoder"
CHECK_TEXTS = ("When was the movement banned?", "A longer passage, with punctuation; and a second clause. " * 8)
MIN_COSINE = 0.9999  # an export that disagrees more with torch is not used


class OnnxEncoder:
    """Mean-pooled, normalised MiniLM-style embeddings from an exported model.onnx; Embedder's interface."""

    def __init__(self, folder: Path, batch_size: int = 8, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        self.model_id: str = info["model_id"]
        self.dim: int = info["dim"]
        self.max_tokens: int = info["max_tokens"]
        self.batch_size = batch_size
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_padding()  # the shipped file pads to 128; padding is done per batch below
        self._counter.no_truncation()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_tokens)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)  # a Ray actor: the CPUs it holds
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle runtime threads would otherwise spin after each question, taking the cores that
        # FAISS and BM25 need next: FAISS at 1,000 passages went from 0.04 ms to 3.5.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options,
                                                     providers=["CPUExecutionProvider"])
        self._vocabulary = frozenset(w for w in self._tokenizer.get_vocab() if w.isalpha())

    def is_common_word(self, word: str) -> bool:
        """Is `word` a whole entry of the model's word-piece vocabulary (a common word, not a rare name)?"""
        return word.lower() in self._vocabulary

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens."""
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return self.encode_with_units(texts, [[] for _ in texts], show_progress)[0]

    def encode_with_units(self, texts: Sequence[str], unit_spans: Sequence[Sequence[Span]],
                          show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors, and span vectors pooled from the same tokens (see Embedder.encode_with_units)."""
        passages = np.zeros((len(texts), self.dim), dtype=np.float32)
        units: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        bar = progress_bar(len(texts)) if show_progress else None
        order = np.argsort([-len(t) for t in texts], kind="stable")  # batches of like length: little padding
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[r] for r in rows])
            for row, encoding, tokens in zip(rows, encodings, self._token_embeddings(encodings)):
                pooled = tokens.mean(axis=0)
                passages[row] = pooled / (np.linalg.norm(pooled) or 1.0)
                units[row] = pool_spans(tokens, np.asarray(encoding.offsets), unit_spans[row], passages[row])
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return passages, np.concatenate(units) if units else np.zeros((0, self.dim), dtype=np.float32)

    def _token_embeddings(self, encodings: list[Any]) -> list[np.ndarray]:
        """Each text's token vectors, special tokens included, padding left out."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        tokens = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        return [tokens[row, : len(e.ids)] for row, e in enumerate(encodings)]


def encoder_folder(index_dir: Path) -> Path:
    return index_dir / FOLDER


def _is_export_of(folder: Path, model_id: str) -> bool:
    """Is `folder` a whole export of `model_id` (its model file as long as when written)?"""
    try:
        info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        return info.get("model_id") == model_id and info.get("model_bytes") == (folder / "model.onnx").stat().st_size
    except (OSError, ValueError, AttributeError):
        return False


def open_onnx_encoder(index_dir: Path, model_id: str, batch_size: int = 8,
                      threads: int | None = None) -> OnnxEncoder | None:
    """The exported encoder for `model_id`, or None (not exported, another model, damaged, no onnxruntime)."""
    folder = encoder_folder(index_dir)
    if not _is_export_of(folder, model_id):
        return None
    try:
        return OnnxEncoder(folder, batch_size, threads)
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own types; torch still works
        log.warning("cannot load the ONNX export in %s (%s); using torch until `citebot index` exports it again",
                    folder, error)
        return None


def ensure_onnx_encoder(index_dir: Path, model_id: str, get_embedder: Callable[[], Any]) -> bool:
    """Export the model unless a whole export of it is there; never fails the caller (torch remains)."""
    folder = encoder_folder(index_dir)
    if _is_export_of(folder, model_id):
        return True
    try:
        return export_onnx(get_embedder(), folder) is not None
    except Exception as error:  # noqa: BLE001 - a failed export only costs cold-start time
        log.warning("could not export the model to ONNX (%s); torch will be used", error)
        return False


def export_onnx(embedder: Any, folder: Path) -> Path | None:
    """Export the embedder's transformer to folder/model.onnx, check it against torch, describe it.

    Returns the folder, or None when the model is not a plain mean-pooling one or the
    export disagrees with torch (the query path then keeps sentence-transformers).
    """
    import torch

    model = embedder._model
    modules = [type(m).__name__ for m in model]
    mean_pooling = len(model) > 1 and getattr(model[1], "pooling_mode", None) == "mean"
    if modules[:2] != ["Transformer", "Pooling"] or not mean_pooling or modules[2:] not in ([], ["Normalize"]):
        return None
    if not getattr(model.tokenizer, "is_fast", False):
        return None  # the query path reads tokenizer.json, which only fast tokenizers have
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    sample = model.tokenizer(list(CHECK_TEXTS[:1]), return_tensors="pt")
    inputs = tuple(sample[name] for name in ("input_ids", "attention_mask", "token_type_ids"))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_token_embeddings_module(model[0].auto_model), inputs, str(staging / "model.onnx"),
                          input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["tokens"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in
                                        ("input_ids", "attention_mask", "token_type_ids", "tokens")},
                          opset_version=17, dynamo=False)
    model.tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
    info = {"model_id": embedder.model_id, "dim": embedder.dim, "max_tokens": embedder.max_tokens,
            "torch": torch.__version__, "model_bytes": (staging / "model.onnx").stat().st_size}
    (staging / "encoder.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    agreement = float(np.min(np.sum(OnnxEncoder(staging).encode_passages(list(CHECK_TEXTS))
                                    * embedder.encode_passages(list(CHECK_TEXTS)), axis=1)))
    if agreement < MIN_COSINE:
        log.warning("ONNX export of the model disagrees with torch (cosine %.5f); not used", agreement)
        shutil.rmtree(staging, ignore_errors=True)
        return None
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def _token_embeddings_module(transformer: Any) -> Any:
    """The transformer as a module of its three inputs that returns token embeddings (what is exported)."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    return TokenEmbeddings().eval()
