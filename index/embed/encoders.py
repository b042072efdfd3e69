"""Which runtime embeds: the ONNX export when there is one for the configured model, else torch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from index.embed.embedder import BUNDLED_MODEL_ID, Embedder
from index.embed.onnx_encoder import ensure_onnx_encoder, open_onnx_encoder
from index.schema import Span
from index.settings import Settings


class Encoder(Protocol):
    """What indexing and answering need of a model; Embedder (torch) and OnnxEncoder both are one."""

    model_id: str
    dim: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def is_common_word(self, word: str) -> bool: ...

    def encode_query(self, text: str) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray: ...

    def encode_with_units(self, texts: Sequence[str], unit_spans: Sequence[Sequence[Span]],
                          show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]: ...


def open_encoder(settings: Settings, export_if_missing: bool = False, threads: int | None = None) -> Encoder:
    """The ONNX export for settings.embed_model, made first when asked (it loads torch once), else torch.

    `threads`: what the ONNX runtime may use (default: every core); torch follows OMP_NUM_THREADS."""
    model_id = settings.embed_model or BUNDLED_MODEL_ID
    if settings.onnx:
        if export_if_missing:
            ensure_onnx_encoder(settings.index_dir, model_id,
                                lambda: Embedder(settings.embed_model, settings.embed_batch_size))
        encoder = open_onnx_encoder(settings.index_dir, model_id, settings.embed_batch_size, threads)
        if encoder is not None:
            return encoder
    return Embedder(settings.embed_model, settings.embed_batch_size)
