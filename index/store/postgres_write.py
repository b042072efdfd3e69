"""`citebot index` into PostgreSQL: each rebuild published in one transaction, one rebuild at a time.

A session advisory lock fences the rebuild, from its reading of the manifest to its
commit, so two machines rebuilding at once do not both add the same documents: the
second is refused with BuildBusy. Everything a rebuild changes (passages, postings,
term statistics, documents, meta) is written in one transaction: a rebuild killed at
any moment leaves nothing, and readers switch from the old index to the new at commit.
A rebuild from scratch writes new tables beside the served ones and swaps them in at the
end, so questions go on being answered from the old index while it builds.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.schema import Chunk
from index.store.files import BuildBusy, IndexWriteError, meta_mismatch
from index.store.lexical import passage_terms
from index.store.connections import connect, database_errors, readable_url, reason, register_vector

log = logging.getLogger(__name__)
LOCK_KEY = 0x63697465626F74  # "citebot" in ASCII: one key for every citebot rebuild of a database
# pgvector's default m; ef_construction 200, not its 64: at 100,000 passages, recall@10 on the eval
# questions at ef_search 400 rises from 0.892 to 0.983, for 62 s of writing instead of 35 (README).
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 200
TABLES = ("citebot_meta", "citebot_documents", "citebot_passages", "citebot_postings", "citebot_terms")
NEXT_SCHEMA = "citebot_next"  # where a rebuild from scratch writes until it swaps its tables in
PREVIOUS_SCHEMA = "citebot_previous"  # where the tables it replaced are kept (index.store.postgres reads them)
READING = ("reader", "ocr", "places")  # how a document was read, and where its pages begin: one jsonb column


def schema(dim: int) -> list[str]:
    return [
        "CREATE EXTENSION IF NOT EXISTS vector",
        "CREATE TABLE citebot_meta (id int PRIMARY KEY CHECK (id = 1), version text NOT NULL, meta jsonb NOT NULL)",
        "CREATE TABLE citebot_documents (doc_id text PRIMARY KEY, title text NOT NULL, date text, source text, "
        "content_hash text NOT NULL, passages int NOT NULL, reading jsonb)",
        f"CREATE TABLE citebot_passages (chunk_id bigint PRIMARY KEY, doc_id text NOT NULL, text text NOT NULL, "
        f"start_offset int NOT NULL, end_offset int NOT NULL, sentences jsonb NOT NULL, units bytea NOT NULL, "
        f"length int NOT NULL, embedding vector({int(dim)}) NOT NULL)",
        "CREATE INDEX citebot_passages_doc ON citebot_passages (doc_id)",
        # INCLUDE: BM25 reads a term's postings from the index alone, not from rows scattered over the table.
        "CREATE TABLE citebot_postings (term text NOT NULL, chunk_id bigint NOT NULL, tf int NOT NULL, "
        "length int NOT NULL, PRIMARY KEY (term, chunk_id) INCLUDE (tf, length))",
        "CREATE INDEX citebot_postings_chunk ON citebot_postings (chunk_id)",
        "CREATE TABLE citebot_terms (term text PRIMARY KEY, df int NOT NULL)",
    ]


def hnsw_index(ef_construction: int) -> str:
    return ("CREATE INDEX citebot_passages_hnsw ON citebot_passages USING hnsw (embedding vector_ip_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {int(ef_construction)})")


@dataclass
class PgVersion:
    """What an incremental rebuild starts from: the published meta and the documents' content hashes."""

    meta: dict[str, Any]
    docs: dict[str, dict[str, Any]]


class PgTarget:
    """Where `citebot index` writes when CITEBOT_DATABASE_URL is set."""

    def __init__(self, url: str, ef_search: int, ef_construction: int = HNSW_EF_CONSTRUCTION) -> None:
        self.url = url
        self.ef_search = ef_search
        self.ef_construction = ef_construction  # the benchmark compares others
        self._connection: Any = None

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the database's rebuild lock for the whole rebuild, or refuse at once if another holds it."""
        connection = connect(self.url, application="citebot index")
        try:
            with database_errors(self.url):
                if not connection.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                    raise BuildBusy(f"another rebuild of the index in the {readable_url(self.url)} is running; "
                                    "try again when it has finished")
            self._connection = connection
            yield
        finally:
            self._connection = None
            connection.close()  # ends the session, which releases the lock

    def previous(self, expected: dict[str, Any]) -> tuple[PgVersion | None, str | None]:
        """The published index to build on, or why everything must be embedded again."""
        with database_errors(self.url):
            connection = self._connection
            if not connection.execute("SELECT to_regclass('citebot_meta') IS NOT NULL").fetchone()[0]:
                return None, None
            row = connection.execute("SELECT meta FROM citebot_meta").fetchone()
            if row is None:
                return None, None
            docs = {doc_id: {"title": title, "content_hash": content_hash, "chunk_ids": [], **(reading or {})}
                    for doc_id, title, content_hash, reading in
                    connection.execute("SELECT doc_id, title, content_hash, to_jsonb(d)->'reading' "
                                       "FROM citebot_documents d")}
        mismatch = meta_mismatch(row[0], expected)
        if mismatch is None:
            return PgVersion(row[0], docs), None
        key, built, wanted = mismatch
        return None, f"the {'index format' if key == 'format' else key} changed ({built} → {wanted})"

    def wants_conversion(self, previous: PgVersion) -> bool:
        return False  # the HNSW index serves every size

    def publish(self, previous: PgVersion | None, meta: dict[str, Any], docs: dict[str, dict[str, Any]],
                fresh: set[str], dropping: set[str], chunks: list[Chunk], vectors: np.ndarray,
                units: np.ndarray) -> dict[str, Any]:
        """Write the change in one transaction: `fresh` documents (read in this build) added with their `chunks`,
        `dropping` ones removed. The published meta comes back, with the passage count and the vector index."""
        name = f"v{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**6:06d}"
        connection = self._connection
        with _write_errors(self.url), connection.transaction():
            connection.execute("SET LOCAL maintenance_work_mem = '1GB'")  # HNSW builds fast while its graph fits
            if previous is None:
                _build_beside(connection, int(meta["dim"]))
            else:
                _add_reading_column(connection)
            touched = _drop_documents(connection, sorted(dropping))
            _insert_documents(connection, docs, fresh, chunks)
            touched |= _insert_passages(connection, chunks, vectors, units)
            _count_terms(connection, None if previous is None else touched)
            if previous is None:
                connection.execute(hnsw_index(self.ef_construction))  # once over all rows: faster than row by row
            count, average = connection.execute("SELECT count(*), coalesce(avg(length), 1) FROM citebot_passages"
                                                ).fetchone()
            info = {"kind": "hnsw", "count": int(count), "m": HNSW_M, "ef_construction": self.ef_construction,
                    "ef_search": self.ef_search}
            published = {**meta, "chunks": int(count), "average_length": float(average), "vector_index": info}
            connection.execute("INSERT INTO citebot_meta (id, version, meta) VALUES (1, %s, %s) ON CONFLICT (id) "
                               "DO UPDATE SET version = excluded.version, meta = excluded.meta",
                               (name, _jsonb(published)))
            if previous is None:
                _swap_in(connection)
        _tidy(connection)
        return {**published, "version": name}


def _add_reading_column(connection: Any) -> None:
    """Tables written before documents recorded how they were read gain the column, once (ALTER TABLE locks
    the table against questions until the build commits, so only when it is missing)."""
    if connection.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND "
                          "table_name = 'citebot_documents' AND column_name = 'reading'").fetchone() is None:
        connection.execute("ALTER TABLE citebot_documents ADD COLUMN reading jsonb")


def _build_beside(connection: Any, dim: int) -> None:
    """Start a rebuild from scratch in a schema of its own: the tables questions read are not touched (nor
    locked) until `_swap_in`, at the very end. Dropping them first held an exclusive lock through the whole
    build: questions waited behind it (27 minutes at a million passages), then failed on the dropped tables."""
    create_extension, *tables = schema(dim)
    connection.execute(create_extension)  # in public, where the vector type is found from either schema
    register_vector(connection)  # the extension may have been created just now
    connection.execute(f"DROP SCHEMA IF EXISTS {NEXT_SCHEMA} CASCADE")
    connection.execute(f"CREATE SCHEMA {NEXT_SCHEMA}")
    connection.execute(f"SET LOCAL search_path = {NEXT_SCHEMA}, public")  # every statement below writes there
    for statement in tables:
        connection.execute(statement)


def _swap_in(connection: Any) -> None:
    """Replace the served tables with the new ones, in the transaction that commits them. The meta table is
    locked first, as every question reads it first: a question in flight finishes on the old tables, one that
    comes meanwhile waits the moment of the swap and then reads the new (no two wait on each other). The old
    tables are set aside until the next rebuild from scratch: a process started for them (another model or
    chunking) serves on from there instead of failing."""
    connection.execute("RESET search_path")
    served = connection.execute("SELECT to_regclass('public.citebot_meta') IS NOT NULL").fetchone()[0]
    if served:
        connection.execute("LOCK TABLE public.citebot_meta IN ACCESS EXCLUSIVE MODE")
    connection.execute(f"DROP SCHEMA IF EXISTS {PREVIOUS_SCHEMA} CASCADE")
    connection.execute(f"CREATE SCHEMA {PREVIOUS_SCHEMA}")
    for table in TABLES:
        if connection.execute(f"SELECT to_regclass('public.{table}') IS NOT NULL").fetchone()[0]:
            connection.execute(f"ALTER TABLE public.{table} SET SCHEMA {PREVIOUS_SCHEMA}")
    for table in TABLES:
        connection.execute(f"ALTER TABLE {NEXT_SCHEMA}.{table} SET SCHEMA public")
    connection.execute(f"DROP SCHEMA {NEXT_SCHEMA}")


@contextmanager
def _write_errors(url: str) -> Iterator[None]:
    """Whatever stops the transaction (a full disk, a lost connection) rolls it all back; say so."""
    import psycopg

    try:
        yield
    except psycopg.Error as error:
        raise IndexWriteError(f"cannot write the index in the {readable_url(url)} ({reason(error, url)}); "
                              "the previous index keeps serving") from None


def _tidy(connection: Any) -> None:
    """Statistics for the planner and a visibility map for index-only scans, now rather than when autovacuum
    comes by: right after a bulk load, BM25's queries ran on guessed row counts and read every row's page."""
    import psycopg

    try:
        for table in ("citebot_postings", "citebot_passages", "citebot_terms"):
            connection.execute(f"VACUUM (ANALYZE) {table}")  # after the commit: VACUUM cannot run in a transaction
    except psycopg.Error as error:  # the new index is published; autovacuum will do this later
        log.warning("the index is published, but VACUUM ANALYZE failed (%s)", reason(error))


def _drop_documents(connection: Any, doc_ids: list[str]) -> set[str]:
    """Remove the documents' passages and postings; the terms whose counts changed."""
    if not doc_ids:
        return set()
    touched = connection.execute(
        "DELETE FROM citebot_postings WHERE chunk_id IN (SELECT chunk_id FROM citebot_passages WHERE doc_id = ANY(%s)) "
        "RETURNING term", (doc_ids,)).fetchall()
    connection.execute("DELETE FROM citebot_passages WHERE doc_id = ANY(%s)", (doc_ids,))
    connection.execute("DELETE FROM citebot_documents WHERE doc_id = ANY(%s)", (doc_ids,))
    return {term for (term,) in touched}


def _insert_documents(connection: Any, docs: dict[str, dict[str, Any]], fresh: set[str], chunks: list[Chunk]) -> None:
    counts = Counter(chunk.doc_id for chunk in chunks)
    with connection.cursor().copy("COPY citebot_documents (doc_id, title, date, source, content_hash, passages, "
                                  "reading) FROM STDIN") as copy:
        for doc_id in sorted(fresh):
            doc = docs[doc_id]
            reading = {key: doc[key] for key in READING if doc.get(key) is not None}
            copy.write_row((doc_id, doc["title"], doc.get("date"), doc.get("source"), doc["content_hash"],
                            counts.get(doc_id, 0), _jsonb(reading)))


def _insert_passages(connection: Any, chunks: list[Chunk], vectors: np.ndarray, units: np.ndarray) -> set[str]:
    """Passages with their vectors, then their BM25 postings; the terms they use.

    A passage's terms are found twice, once per COPY, rather than held: at a million
    passages the postings would be some 60 million tuples in memory.
    """
    from psycopg.types.json import Jsonb

    touched: set[str] = set()
    row = 0
    with connection.cursor() as cursor:
        with cursor.copy("COPY citebot_passages (chunk_id, doc_id, text, start_offset, end_offset, sentences, units, "
                         "length, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "text", "int4", "int4", "jsonb", "bytea", "int4", "vector"])
            for chunk, vector in zip(chunks, vectors):
                count = len(chunk.sentences)
                sentence_vectors = np.asarray(units[row : row + count], dtype=np.float16)
                row += count
                copy.write_row((chunk.chunk_id, chunk.doc_id, chunk.text, chunk.start, chunk.end,
                                Jsonb([list(s) for s in chunk.sentences]), sentence_vectors.tobytes(),
                                len(passage_terms(chunk.text)), np.asarray(vector, dtype=np.float32)))
        with cursor.copy("COPY citebot_postings (term, chunk_id, tf, length) FROM STDIN") as copy:
            for chunk in chunks:
                tokens = passage_terms(chunk.text)
                for term, tf in Counter(tokens).items():
                    copy.write_row((term, chunk.chunk_id, tf, len(tokens)))
                touched.update(tokens)
    return touched


def _count_terms(connection: Any, terms: set[str] | None) -> None:
    """Document frequencies of the terms given (None: of every term), from the postings."""
    if terms is None:
        connection.execute("INSERT INTO citebot_terms SELECT term, count(*) FROM citebot_postings GROUP BY term")
        return
    listed = sorted(terms)
    connection.execute("DELETE FROM citebot_terms WHERE term = ANY(%s)", (listed,))
    connection.execute("INSERT INTO citebot_terms SELECT term, count(*) FROM citebot_postings WHERE term = ANY(%s) "
                       "GROUP BY term", (listed,))


def _jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value)
