"""Hybrid retrieval: dense (FAISS) and BM25 candidates fused by reciprocal rank."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from index.schema import Hit
from index.store import SearchView

EACH_RETRIEVERS_BEST = 2


def retrieve(query_terms: Iterable[str], query_vector: np.ndarray, store: SearchView, candidates: int,
             rrf_k: int, top_k: int) -> list[Hit]:
    """The `top_k` passages by reciprocal-rank fusion of dense and lexical rankings."""
    dense = store.dense_search(query_vector, candidates)
    lexical = store.lexical.search(query_terms, candidates)
    fused: dict[int, float] = defaultdict(float)
    for ranking in (dense, lexical):
        for rank, (chunk_id, _) in enumerate(ranking):
            fused[chunk_id] += 1.0 / (rrf_k + rank + 1)
    dense_scores = dict(dense)
    ranked = sorted(fused, key=lambda chunk_id: (-fused[chunk_id], chunk_id))
    # Fusion favours passages both retrievers like; a passage one of them ranks first
    # (a paraphrase only the encoder sees, a date only BM25 sees) must still be considered.
    champions = {chunk_id for ranking in (dense, lexical) for chunk_id, _ in ranking[:EACH_RETRIEVERS_BEST]}
    best = [chunk_id for rank, chunk_id in enumerate(ranked) if rank < top_k or chunk_id in champions]
    ranks = [{chunk_id: rank for rank, (chunk_id, _) in enumerate(ranking)} for ranking in (dense, lexical)]
    store.prefetch(best, query_vector)
    return [_hit(store, chunk_id, query_vector, dense_scores, ranks) for chunk_id in best]


def _hit(store: SearchView, chunk_id: int, query_vector: np.ndarray, dense_scores: dict[int, float],
         ranks: list[dict[int, int]]) -> Hit:
    chunk = store.chunks[chunk_id]  # parsed from disk: once per hit
    return Hit(
        chunk=chunk,
        doc=store.doc_info(chunk.doc_id),
        dense=dense_scores.get(chunk_id, store.cosine(query_vector, chunk_id)),
        unit_dense=store.unit_cosines(query_vector, chunk),
        dense_rank=ranks[0].get(chunk_id),
        lexical_rank=ranks[1].get(chunk_id),
    )
