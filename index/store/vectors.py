"""The FAISS index of passage vectors: exact search while it is fast, an IVF index above a size.

Both kinds hold the vectors themselves (no compression), address them by chunk id,
support removal and reconstruction, and so convert into each other without
re-embedding. The IVF index's `nprobe` is chosen at build time as the smallest that
reaches the wanted recall@10 against exact search, measured on queries made from
the corpus's own sentence vectors, and the measured recall is recorded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

EXACT, APPROXIMATE = "exact", "approximate"
RECALL_K = 10
RECALL_QUERIES = 256
TRAIN_POINTS_PER_LIST = 40  # FAISS wants at least 39 training points per list
RETRAIN_GROWTH = 2.0  # retrain the lists when the index has grown or shrunk this much since


@dataclass(frozen=True)
class VectorIndexInfo:
    """What meta.json records about the vector index, and what `citebot index` reports."""

    kind: str
    count: int
    nlist: int = 0
    nprobe: int = 0
    trained_on: int = 0  # vectors in the index when its lists were trained
    recall_at_10: float | None = None  # against exact search, on queries made from the corpus's sentences

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def wanted_kind(setting: str, count: int, exact_max: int, current: str = EXACT) -> str:
    """'exact' or 'approximate' for an index of `count` vectors under the `vector_index` setting.

    Under 'auto' an index that went approximate stays so until it shrinks to half the
    threshold: a corpus hovering around it is not converted back and forth.
    """
    if setting in (EXACT, APPROXIMATE):
        return setting
    if count > exact_max:
        return APPROXIMATE
    return APPROXIMATE if current == APPROXIMATE and count * 2 > exact_max else EXACT


def kind_of(index: Any) -> str:
    import faiss

    return APPROXIMATE if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else EXACT


def empty_exact(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def all_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of every vector stored, in no particular order."""
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexIVF):
        lists = index.invlists
        ids, rows = [], []
        for number in range(index.nlist):
            size = lists.list_size(number)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(number), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(number), size * index.code_size)
                rows.append(np.frombuffer(codes, dtype=np.float32).reshape(size, index.d).copy())
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
        return np.concatenate(ids), np.concatenate(rows)
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    return ids, index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)


def fit(index: Any, setting: str, exact_max: int, target_recall: float, sentences: np.ndarray,
        previous: VectorIndexInfo | None) -> tuple[Any, VectorIndexInfo]:
    """The index as the settings want it for its current size, converted or retrained if need be."""
    count, current = int(index.ntotal), kind_of(index)
    kind = wanted_kind(setting, count, exact_max, current)
    if kind == EXACT:
        if current == EXACT:
            return index, VectorIndexInfo(EXACT, count)
        ids, vectors = all_vectors(index)
        exact = empty_exact(index.d)
        exact.add_with_ids(vectors, ids)
        return exact, VectorIndexInfo(EXACT, count)
    if current == APPROXIMATE and previous is not None and previous.kind == APPROXIMATE \
            and not _needs_retraining(previous.trained_on, count):
        return index, VectorIndexInfo(APPROXIMATE, count, previous.nlist, previous.nprobe, previous.trained_on,
                                      previous.recall_at_10)
    ids, vectors = all_vectors(index)
    return build_ivf(ids, vectors, target_recall, sentences)


def _needs_retraining(trained_on: int, count: int) -> bool:
    return not trained_on or count > RETRAIN_GROWTH * trained_on or count * RETRAIN_GROWTH < trained_on


def nlist_for(count: int) -> int:
    """About 4·√n lists (a power of two), never fewer than FAISS's training points per list allow."""
    target = 1 << max(0, int(round(np.log2(max(1.0, 4 * np.sqrt(count))))))
    return max(1, min(target, count // TRAIN_POINTS_PER_LIST))


def build_ivf(ids: np.ndarray, vectors: np.ndarray, target_recall: float,
              sentences: np.ndarray) -> tuple[Any, VectorIndexInfo]:
    """An IVF index over the vectors, with the smallest nprobe whose recall@10 reaches the target."""
    import faiss

    count, dim = vectors.shape
    nlist = nlist_for(count)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(count, min(count, nlist * TRAIN_POINTS_PER_LIST), replace=False)
    index.train(vectors[np.sort(sample)])
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by chunk id
    index.add_with_ids(vectors, ids)
    nprobe, recall = tune_nprobe(index, ids, vectors, sentences, target_recall)
    index.nprobe = nprobe
    return index, VectorIndexInfo(APPROXIMATE, count, nlist, nprobe, count, recall)


def tune_nprobe(index: Any, ids: np.ndarray, vectors: np.ndarray, sentences: np.ndarray,
                target: float) -> tuple[int, float | None]:
    """Double nprobe from 1 until recall@10 against exact search reaches `target` (all lists: recall 1)."""
    import faiss

    queries = _sample(sentences)
    if not len(queries):
        return index.nlist, None
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    k = min(RECALL_K, len(vectors))
    _, rows = exact.search(queries, k)
    truth = ids[rows]
    nprobe = 1
    while True:
        index.nprobe = nprobe
        recall = recall_at(index, queries, truth)
        if recall >= target or nprobe >= index.nlist:
            return nprobe, round(recall, 4)
        nprobe = min(nprobe * 2, index.nlist)


def recall_at(index: Any, queries: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-k that `index` also returns in its top-k, averaged over queries."""
    k = truth.shape[1]
    _, found = index.search(queries, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, found)]))


def _sample(sentences: np.ndarray) -> np.ndarray:
    """Queries for the recall check: midpoints of two random sentences of the corpus.

    A sentence vector finds its own passage too easily; real questions sit between
    topics. On eval/qa.jsonl's questions, recall measured this way was the lower one
    in every set-up tried (BENCHMARKS.md), so the target it sets holds for questions.
    """
    if not len(sentences):
        return np.zeros((0, sentences.shape[1]), dtype=np.float32)
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, len(sentences), size=(RECALL_QUERIES, 2))
    queries = np.asarray(sentences[pairs[:, 0]], dtype=np.float32) + np.asarray(sentences[pairs[:, 1]], np.float32)
    norms = np.linalg.norm(queries, axis=1, keepdims=True)
    return queries / np.where(norms > 0, norms, 1)
