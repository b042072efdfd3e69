"""The index in PostgreSQL with pgvector: one index shared by bot processes on several machines.

Tables (all named citebot_*): one meta row (what the vectors mean, as meta.json says it
for the file store, and the published version's name), documents, passages (text,
sentence offsets, the passage vector under an HNSW index, the sentence vectors as
float16 bytes), and BM25's postings (term, passage, term count, passage length) with
each term's document frequency. Lexical search is BM25 computed in SQL from the
postings, the same formula and statistics as the file store's bm25s, so both stores
rank alike; PostgreSQL's own full-text ranking (ts_rank) has no IDF.

Every question reads in one REPEATABLE READ snapshot: a rebuild that commits between
its dense and lexical searches is not half seen. `citebot index` writes in one
transaction (index.store.postgres_write), so readers see the old index or the new one.

llama-index's PGVectorStore is not used: it writes nodes through its own SQLAlchemy
sessions, one add or delete at a time, so a rebuild could not be published in one
transaction together with its postings, documents and meta, nor fenced by our lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from index.schema import Chunk
from index.store.connections import Connections, StoreUnavailable, connect, database_errors, readable_url
from index.store.files import DocInfos, IndexMissing, check_meta, meta_mismatch
from index.store.lexical import BM25_B, BM25_K1, TermStatistics

log = logging.getLogger(__name__)


class _Published:
    """What one published version needs in memory: its meta, documents and term statistics."""

    def __init__(self, connection: Any) -> None:
        version, self.meta = connection.execute("SELECT version, meta FROM citebot_meta").fetchone()
        self.version: str = version
        # to_jsonb(d)->'reading': null on tables written before the column was (read until the rebuild).
        self.docs = {row[0]: {"title": row[1], "date": row[2], "source": row[3], "content_hash": row[4],
                              "passages": row[5], **(row[6] or {})}
                     for row in connection.execute("SELECT doc_id, title, date, source, content_hash, passages, "
                                                   "to_jsonb(d)->'reading' FROM citebot_documents d ORDER BY doc_id")}
        self.doc_info = DocInfos(self.docs)
        doc_freq = dict(connection.execute("SELECT term, df FROM citebot_terms").fetchall())
        self.statistics = TermStatistics(doc_freq, int(self.meta["chunks"]))
        self.average_length = float(self.meta.get("average_length") or 1.0)


READ_LOCK_SECONDS = 10
PREVIOUS_SCHEMA = "citebot_previous"  # the tables a rebuild from scratch replaced (index.store.postgres_write)


class PgStore:
    """The published index in PostgreSQL, with the read interface of index.store.files.IndexStore."""

    def __init__(self, url: str, pool: Any, published: _Published, ef_search: int,
                 expected: dict[str, Any] | None = None) -> None:
        self.url = url
        self._pool = pool
        self._published = published
        self._ef_search = ef_search
        self._expected = expected or {}  # what a version must have been built with to be served here
        self._refused: str | None = None  # a version already found not to match, said once in the log
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str, expected: dict[str, Any], ef_search: int) -> PgStore:
        """Connect, and refuse a missing index or one built with other settings, as the file store does."""
        with connect(url) as connection, database_errors(url):
            exists = connection.execute("SELECT to_regclass('citebot_meta') IS NOT NULL").fetchone()[0]
            if not exists or connection.execute("SELECT count(*) FROM citebot_meta").fetchone()[0] == 0:
                raise IndexMissing(f"no index in the {readable_url(url)}; build one with `citebot index`")
            published = _Published(connection)
        check_meta(published.meta, expected)
        # A question waits for a rebuild's swap (a moment) or for nothing; never for long behind a lock.
        setup = (f"SET hnsw.ef_search = {int(ef_search)}", f"SET lock_timeout = '{READ_LOCK_SECONDS}s'")
        return cls(url, Connections(url, setup), published, ef_search, expected)

    @property
    def version(self) -> str:
        return self._published.version

    @property
    def meta(self) -> dict[str, Any]:
        return {**self._published.meta, "version": self._published.version}

    @property
    def docs(self) -> dict[str, dict[str, Any]]:
        return self._published.docs

    @property
    def lexical(self) -> TermStatistics:
        """The term statistics of the version last seen (searching needs a snapshot)."""
        return self._published.statistics

    @property
    def chunks(self) -> _PassageCount:
        return _PassageCount(int(self._published.meta["chunks"]))

    def published(self) -> str:
        """Each question reads what is committed, so the store follows rebuilds by itself."""
        return self._published.version

    @contextmanager
    def snapshot(self) -> Iterator[PgSnapshot]:
        """A consistent view for one question: what one committed rebuild left, never half of one."""
        with self._pool.connection() as connection:
            connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                version = connection.execute("SELECT version FROM citebot_meta").fetchone()
                if version is None:
                    raise IndexMissing(f"the index in the {readable_url(self.url)} was removed")
                yield PgSnapshot(connection, self._current(connection, version[0]), self._ef_search)
            finally:
                connection.rollback()

    def _current(self, connection: Any, version: str) -> _Published:
        """The published version this snapshot reads, checked as the index folder's are: one built with another
        model or chunking is refused with one line (its vectors would fail every question, or answer wrongly),
        and the version before it, which its rebuild set aside, serves on while there is one."""
        published = self._published
        if published.version == version:
            return published
        with self._lock:
            if self._published.version != version:
                candidate = _Published(connection)  # same snapshot: the statistics match what is read
                mismatch = meta_mismatch(candidate.meta, self._expected)
                if mismatch is None:
                    self._published = candidate
                    log.info("now serving index version %s", version)
                    return candidate
                return self._previous_instead(connection, version, mismatch)
        return self._published

    def _previous_instead(self, connection: Any, version: str, mismatch: tuple[str, Any, Any]) -> _Published:
        key, built, wanted = mismatch
        problem = (f"the index in the {readable_url(self.url)} was rebuilt with {key} {built!r}; this process "
                   f"serves {wanted!r}")
        serving = self._set_aside_version(connection) == self._published.version
        if self._refused != version:
            self._refused = version
            log.warning("%s; %s", problem, f"keeping version {self._published.version} until restarted with "
                        "matching settings" if serving else "restart it with matching settings")
        if not serving:
            raise StoreUnavailable(f"{problem}: restart it with the settings the index was built with, or rebuild "
                                   "with these")
        connection.execute(f"SET LOCAL search_path = {PREVIOUS_SCHEMA}, public")  # this question reads the old tables
        return self._published

    @staticmethod
    def _set_aside_version(connection: Any) -> str | None:
        """The version whose tables the last rebuild from scratch set aside, if any."""
        if not connection.execute(f"SELECT to_regclass('{PREVIOUS_SCHEMA}.citebot_meta') IS NOT NULL").fetchone()[0]:
            return None
        row = connection.execute(f"SELECT version FROM {PREVIOUS_SCHEMA}.citebot_meta").fetchone()
        return row[0] if row else None

    def unit_cosines(self, query: np.ndarray, chunk: Chunk) -> tuple[float, ...]:
        with self.snapshot() as view:
            return view.unit_cosines(query, chunk)


class _PassageCount:
    """`len(store.chunks)` for front ends that report the size."""

    def __init__(self, count: int) -> None:
        self._count = count

    def __len__(self) -> int:
        return self._count


class PgSnapshot:
    """One question's reads, on one connection in one transaction."""

    def __init__(self, connection: Any, published: _Published, ef_search: int) -> None:
        self._connection = connection
        self._ef_search = ef_search
        self.docs = published.docs
        self.doc_info = published.doc_info
        self.lexical = _SqlLexical(connection, published)
        self.chunks = _Passages(connection)
        self._cosines: dict[int, float] = {}  # with the question's vector, of the passages prefetched

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the `k` nearest passages by the HNSW index (vectors are unit length)."""
        if k > self._ef_search:  # HNSW returns at most ef_search rows
            self._connection.execute(f"SET LOCAL hnsw.ef_search = {min(int(k), 1000)}")
        rows = self._connection.execute(
            "SELECT chunk_id, -(embedding <#> %(q)s) FROM citebot_passages ORDER BY embedding <#> %(q)s LIMIT %(k)s",
            {"q": np.asarray(query, dtype=np.float32), "k": int(k)}).fetchall()
        return [(int(chunk_id), float(score)) for chunk_id, score in rows]

    def prefetch(self, chunk_ids: list[int], query: np.ndarray) -> None:
        """The passages a question's hits need, with their cosines, in one round trip instead of one each."""
        self._cosines.update(self.chunks.load(chunk_ids, query))

    def cosine(self, query: np.ndarray, chunk_id: int) -> float:
        if chunk_id in self._cosines:
            return self._cosines[chunk_id]
        row = self._connection.execute("SELECT -(embedding <#> %s) FROM citebot_passages WHERE chunk_id = %s",
                                       (np.asarray(query, dtype=np.float32), chunk_id)).fetchone()
        return float(row[0]) if row else 0.0

    def unit_cosines(self, query: np.ndarray, chunk: Chunk) -> tuple[float, ...]:
        units = self.chunks.units(chunk.chunk_id)
        return tuple(float(x) for x in units.astype(np.float32) @ query) if units is not None else ()


class _Passages:
    """Passages by chunk id, each read once per question with its sentence vectors."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._rows: dict[int, tuple[Chunk, np.ndarray]] = {}

    def __getitem__(self, chunk_id: int) -> Chunk:
        return self._row(chunk_id)[0]

    def units(self, chunk_id: int) -> np.ndarray | None:
        try:
            return self._row(chunk_id)[1]
        except KeyError:
            return None

    def load(self, chunk_ids: list[int], query: np.ndarray) -> dict[int, float]:
        """Read the passages in one round trip; their cosines with `query`, by chunk id."""
        rows = self._connection.execute(
            "SELECT chunk_id, doc_id, text, start_offset, end_offset, sentences, units, -(embedding <#> %s) "
            "FROM citebot_passages WHERE chunk_id = ANY(%s)", (np.asarray(query, dtype=np.float32), chunk_ids))
        return {self._keep(row[:7]): float(row[7]) for row in rows}

    def _row(self, chunk_id: int) -> tuple[Chunk, np.ndarray]:
        if chunk_id not in self._rows:
            row = self._connection.execute(
                "SELECT chunk_id, doc_id, text, start_offset, end_offset, sentences, units FROM citebot_passages "
                "WHERE chunk_id = %s", (chunk_id,)).fetchone()
            if row is None:
                raise KeyError(chunk_id)
            self._keep(row)
        return self._rows[chunk_id]

    def _keep(self, row: tuple) -> int:
        chunk_id, doc_id, text, start, end, sentences, units = row
        chunk = Chunk(chunk_id, doc_id, text, start, end, tuple(tuple(s) for s in sentences))
        self._rows[chunk_id] = (chunk, np.frombuffer(units, dtype=np.float16).reshape(len(sentences), -1))
        return chunk_id


class _SqlLexical:
    """BM25 over the postings table, with the published version's term statistics."""

    def __init__(self, connection: Any, published: _Published) -> None:
        self._connection = connection
        self._published = published
        statistics = published.statistics
        self.query_weights, self.knows, self.idf = statistics.query_weights, statistics.knows, statistics.idf

    def search(self, query_terms: Any, k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the best `k` passages sharing a term with the query."""
        statistics = self._published.statistics
        known = [t for t in dict.fromkeys(query_terms) if statistics.knows(t)]
        if not known:
            return []
        rows = self._connection.execute(
            "SELECT chunk_id, sum(q.idf * p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.length / %(avg)s))) AS score "
            "FROM citebot_postings p JOIN unnest(%(terms)s::text[], %(idfs)s::float8[]) AS q(term, idf) "
            "ON p.term = q.term GROUP BY chunk_id ORDER BY score DESC, chunk_id LIMIT %(k)s",
            {"k1": BM25_K1, "b": BM25_B, "avg": self._published.average_length, "terms": known,
             "idfs": [statistics.idf(t) for t in known], "k": int(k)}).fetchall()
        return [(int(chunk_id), float(score)) for chunk_id, score in rows]
