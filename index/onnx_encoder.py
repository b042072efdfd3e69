"""Questions encoded by ONNX Runtime from a copy of the model exported at index time.

Importing sentence-transformers and torch takes 5-6 s of every cold `citebot ask`;
onnxruntime and tokenizers take 0.4 s, and give the same vectors (cosine above
0.99999, checked at export). `citebot index` exports the model once, next to the
index; the query path uses it when it matches the configured model, and falls back
to sentence-transformers otherwise. Passages stay on torch, which was as fast
(BENCHMARKS.md).
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

log = logging.getLogger(__name__)
FOLDER = "query-encoder"
CHECK_TEXTS = ("When was the movement banned?", "A longer passage, with punctuation; and a second clause. " * 8)
MIN_COSINE = 0.9999  # an export that disagrees more with torch is not used


class OnnxEncoder:
    """Mean-pooled, normalised MiniLM-style embeddings from an exported model.onnx."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        self.model_id: str = info["model_id"]
        self.dim: int = info["dim"]
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()  # the shipped file pads to 128; padding is done per batch below
        self._tokenizer.enable_truncation(info["max_tokens"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, os.cpu_count() or 1)
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

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]

    def encode_passages(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            vectors[rows] = self._encode_batch([texts[r] for r in rows])
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        tokens = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        pooled = (tokens * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def encoder_folder(index_dir: Path) -> Path:
    return index_dir / FOLDER


def open_onnx_encoder(index_dir: Path, model_id: str) -> OnnxEncoder | None:
    """The exported encoder for `model_id`, or None (not exported, another model, onnxruntime missing)."""
    folder = encoder_folder(index_dir)
    try:
        info = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
        if info.get("model_id") != model_id:
            return None
        return OnnxEncoder(folder)
    except (OSError, ValueError, KeyError, ImportError) as error:
        log.info("questions will be encoded with sentence-transformers: %s", error)
        return None


def ensure_onnx_encoder(index_dir: Path, model_id: str, get_embedder: Callable[[], Any]) -> bool:
    """Export the model for the query path unless an export of it is there; never fails the caller."""
    folder = encoder_folder(index_dir)
    try:
        if json.loads((folder / "encoder.json").read_text(encoding="utf-8")).get("model_id") == model_id:
            return True
    except (OSError, ValueError):
        pass
    try:
        return export_onnx(get_embedder(), folder) is not None
    except Exception as error:  # noqa: BLE001 - a failed export only costs cold-start time
        log.warning("could not export the model for fast question encoding (%s); torch will be used", error)
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
            "torch": torch.__version__}
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
