"""Which runtime embeds: the ONNX export when there is one for the configured model, else torch; and for a large
rebuild, whichever of the two is faster on this CPU."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from index.embed.embedder import BUNDLED_MODEL_ID, Embedder
from index.embed.onnx_encoder import OnnxEncoder, ensure_onnx_encoder, open_onnx_encoder
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


RUNTIME_SAMPLE = 48  # passages each runtime embeds to be timed, after a warm-up batch


def faster_runtime(settings: Settings, encoder: Encoder, texts: Sequence[str]) -> tuple[Encoder, str | None]:
    """For a large rebuild, the faster of the ONNX export and torch on this CPU, timed on a sample of the texts;
    with a line that says which and why. Small rebuilds, torch runs and other encoders (Ray) are left as they are."""
    if (not isinstance(encoder, OnnxEncoder) or not settings.runtime_check_passages
            or len(texts) < settings.runtime_check_passages):
        return encoder, None
    torch_encoder = Embedder(settings.embed_model, settings.embed_batch_size)
    step = max(1, len(texts) // RUNTIME_SAMPLE)
    sample = list(texts[::step][:RUNTIME_SAMPLE])
    rates = {"ONNX Runtime": _rate(encoder, sample), "torch": _rate(torch_encoder, sample)}
    chosen, other = sorted(rates, key=lambda name: -rates[name])
    line = (f"Embedded with {chosen}: {rates[chosen]:.1f} passages/s on a sample of {len(sample)}, "
            f"against {rates[other]:.1f} for {other}.")
    return (torch_encoder if chosen == "torch" else encoder), line


def _rate(encoder: Encoder, sample: list[str]) -> float:
    encoder.encode_passages(sample[:8])  # the first batch pays for memory the rest reuses
    started = time.perf_counter()
    encoder.encode_passages(sample)
    return len(sample) / max(time.perf_counter() - started, 1e-9)
