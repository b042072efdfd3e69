"""Where passages, vectors and term statistics live: version folders on disk (files), or PostgreSQL (postgres).

Two small interfaces, each with one implementation per backend: a store that answers
questions (files.IndexStore, postgres.PgStore) and a target `citebot index` writes to
(file_target.FileTarget, postgres_write.PgTarget). CITEBOT_DATABASE_URL picks PostgreSQL.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from index.schema import Chunk, DocInfo
from index.settings import Settings


class SearchView(Protocol):
    """What one question reads: a consistent state of the index."""

    lexical: Any  # query_weights, knows, idf, search (index.store.lexical)
    chunks: Any  # chunk id -> Chunk

    def doc_info(self, doc_id: str) -> DocInfo: ...
    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...
    def prefetch(self, chunk_ids: list[int], query: np.ndarray) -> None: ...
    def cosine(self, query: np.ndarray, chunk_id: int) -> float: ...
    def unit_cosines(self, query: np.ndarray, chunk: Chunk) -> tuple[float, ...]: ...


class Store(Protocol):
    """The published index, as the front ends and the pipeline hold it."""

    version: str
    meta: dict[str, Any]
    docs: dict[str, dict[str, Any]]

    def snapshot(self) -> AbstractContextManager[SearchView]: ...
    def published(self) -> str | None: ...
    def unit_cosines(self, query: np.ndarray, chunk: Chunk) -> tuple[float, ...]: ...


class IndexTarget(Protocol):
    """Where `citebot index` writes: it locks, reads what is published, and publishes a change at once."""

    def lock(self) -> AbstractContextManager[None]: ...
    def previous(self, expected: dict[str, Any]) -> tuple[Any, str | None]: ...
    def wants_conversion(self, previous: Any) -> bool: ...
    def publish(self, previous: Any, meta: dict[str, Any], docs: dict[str, dict[str, Any]], fresh: set[str],
                dropping: set[str], chunks: list[Chunk], vectors: np.ndarray, units: np.ndarray) -> dict[str, Any]: ...


def open_store(settings: Settings, expected: dict[str, Any]) -> Store:
    """The published index the settings point at, checked against `expected` (model, chunking)."""
    url = settings.database_url.get_secret_value()
    if url:
        from index.store.postgres import PgStore

        return PgStore.open(settings.database_read_url.get_secret_value() or url, expected, settings.hnsw_ef_search)
    from index.store.files import IndexStore

    return IndexStore.load(settings.index_dir, expected)


def open_target(settings: Settings) -> IndexTarget:
    url = settings.database_url.get_secret_value()
    if url:
        from index.store.postgres_write import PgTarget

        return PgTarget(url, settings.hnsw_ef_search)
    from index.store.file_target import FileTarget

    return FileTarget(settings)
