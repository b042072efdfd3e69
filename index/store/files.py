"""The index on disk, read: immutable version folders, and a CURRENT pointer (index.store.file_target writes them).

A version folder holds the FAISS vectors, the BM25 index, the chunks, the document
manifest and a meta.json that says what the vectors mean (model, chunking). Loading
checks meta.json against the settings, so a stale index is refused, not misread.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from index.store.chunk_table import ChunkTable, read_all_chunks
from index.store.lexical import LexicalIndex
from index.schema import Chunk, DocInfo, Place

FORMAT_VERSION = 1
POINTER = "CURRENT"
KEEP_VERSIONS = 2  # the published one and its predecessor


class IndexMissing(Exception):
    """No index has been built in the configured folder."""


class IndexMismatch(Exception):
    """The index was built with other settings than those in force."""


class IndexDamaged(Exception):
    """A file of the published version is missing, truncated or unreadable."""

    def __init__(self, folder: Path, reason: str) -> None:
        self.reason = reason  # which file, and what is wrong with it
        super().__init__(f"index version {folder.name} is damaged ({reason}); rebuild it with `citebot index`")


def error_line(error: BaseException) -> str:
    """An unexpected error as one short line: its type and the first line of its message."""
    detail = str(error).splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


class IndexWriteError(Exception):
    """The index folder cannot be written (read-only, full disk); the previous version keeps serving."""


class BuildBusy(Exception):
    """Another process is rebuilding the same index folder."""


class IndexStore:
    """One published index version, loaded for searching."""

    def __init__(self, folder: Path, meta: dict[str, Any], vectors, unit_vectors: np.ndarray,
                 lexical: LexicalIndex, chunks: ChunkTable, docs: dict[str, dict[str, Any]]) -> None:
        self.folder = folder
        self.meta = meta
        self.lexical = lexical
        self.chunks = chunks
        self.docs = docs
        self._doc_infos = DocInfos(docs)
        self._vectors = vectors
        self._unit_vectors = unit_vectors  # one row per sentence, chunk after chunk in file order
        self.version = folder.name

    def published(self) -> str | None:
        """The version a rebuild has published since (None: none is); the pipeline loads it when it differs."""
        folder = current_version(self.folder.parent)
        return folder.name if folder is not None else None

    def snapshot(self) -> AbstractContextManager[IndexStore]:
        """A loaded version never changes: a question reads it directly."""
        return nullcontext(self)

    @classmethod
    def load(cls, index_dir: Path, expected: dict[str, Any]) -> IndexStore:
        """The published version, with only what every question needs in memory.

        Passages and sentence vectors stay on disk, memory-mapped; BM25's matrices too.
        """
        import faiss

        folder = current_version(index_dir)
        if folder is None:
            raise IndexMissing(f"no index in {index_dir}; build one with `citebot index`")
        with _reading(folder, "meta.json"):
            meta = _read_json(folder / "meta.json")
        check_meta(meta, expected)
        check_files(folder, meta)
        with _reading(folder, "the index files"):
            return cls(folder, meta, faiss.read_index(str(folder / "vectors.faiss")), _units(folder),
                       LexicalIndex.load(folder / "bm25"), ChunkTable(folder), _read_json(folder / "docs.json"))

    def doc_info(self, doc_id: str) -> DocInfo:
        return self._doc_infos(doc_id)

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the `k` nearest chunks."""
        k = min(k, self._vectors.ntotal)
        if k == 0:
            return []
        scores, ids = self._vectors.search(query.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def prefetch(self, chunk_ids: list[int], query: np.ndarray) -> None:
        """Nothing to do: passages are read from memory-mapped files as they are needed."""

    def cosine(self, query: np.ndarray, chunk_id: int) -> float:
        return float(np.dot(self._vectors.reconstruct(chunk_id), query))

    def unit_cosines(self, query: np.ndarray, chunk: Chunk) -> tuple[float, ...]:
        """Cosine of the query with each sentence of the chunk, in order."""
        first = self.chunks.first_unit(chunk.chunk_id)
        rows = np.asarray(self._unit_vectors[first : first + len(chunk.sentences)], dtype=np.float32)
        return tuple(float(x) for x in rows @ query)


class Version:
    """The parts of one version folder an incremental build starts from.

    Passages and vectors are read on first use: a run that finds nothing to do needs
    only the manifest, which at a million passages is a fraction of a second against
    ten seconds for everything.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with _reading(folder, "meta.json"):
            self.meta: dict[str, Any] = _read_json(folder / "meta.json")
        check_files(folder, self.meta)  # all of them: `citebot index` is what repairs a damaged version
        with _reading(folder, "docs.json"):
            self.docs: dict[str, dict[str, Any]] = _read_json(folder / "docs.json")

    @cached_property
    def chunks(self) -> list[Chunk]:
        """In file order, which is also the order of the rows of `units`."""
        return read_all_chunks(self.folder)

    @cached_property
    def vectors(self) -> Any:
        """A FAISS index of either kind in index.store.vectors."""
        import faiss

        return faiss.read_index(str(self.folder / "vectors.faiss"))

    @cached_property
    def units(self) -> np.ndarray:
        """Memory-mapped, one row per sentence."""
        return _units(self.folder)


def read_version(folder: Path) -> Version:
    return Version(folder)


def _units(folder: Path) -> np.ndarray:
    # Memory-mapped: only the rows of the passages a question retrieves are ever read.
    return np.load(folder / "units.npy", mmap_mode="r")


@contextmanager
def _reading(folder: Path, what: str) -> Iterator[None]:
    """Anything a damaged file makes a reader raise (FAISS's RuntimeError, numpy's ValueError, ...) as one error."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - every library fails a truncated file its own way
        raise IndexDamaged(folder, f"{what}: {error_line(error)}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_files(folder: Path, meta: dict[str, Any]) -> None:
    """Refuse a version whose files are missing, or not the size and checksum they were written with.

    Hashing costs about 1 s per 2 GB here (two threads): a version is opened once per process, live reload
    or rebuild, and a flipped bit in vectors.faiss would otherwise give wrong answers without an error.
    Versions written before sizes were recorded are not checked; those with sizes alone, by size.
    """
    recorded = meta.get("files")
    if not isinstance(recorded, dict):
        return
    for name, written in recorded.items():
        path = folder / name
        size = path.stat().st_size if path.is_file() else None
        expected = written if isinstance(written, int) else written.get("bytes")
        if size != expected:
            state = "missing" if size is None else f"{size} bytes, written as {expected}"
            raise IndexDamaged(folder, f"{name}: {state}")
    hashed = [name for name, written in recorded.items() if isinstance(written, dict)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, digest in zip(hashed, pool.map(lambda n: file_sha256(folder / n), hashed)):
            if digest != recorded[name].get("sha256"):
                raise IndexDamaged(folder, f"{name}: its contents changed since it was written (checksum differs)")


def meta_mismatch(meta: dict[str, Any], expected: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """(what, as built, as wanted) for the first difference that makes an index's vectors or chunks
    mean something else than the settings say; None when there is none."""
    for key, wanted in {"format": FORMAT_VERSION, **expected}.items():
        if meta.get(key) != wanted:
            return key, meta.get(key), wanted
    return None


def check_meta(meta: dict[str, Any], expected: dict[str, Any]) -> None:
    """Refuse an index built with other settings, naming the difference and the fix."""
    mismatch = meta_mismatch(meta, expected)
    if mismatch is not None:
        key, built, wanted = mismatch
        raise IndexMismatch(f"index was built with {key} {built!r}, settings say {wanted!r}; "
                            "rebuild it with `citebot index`")


def current_version(index_dir: Path) -> Path | None:
    pointer = index_dir / POINTER
    if not pointer.is_file():
        return None
    folder = index_dir / pointer.read_text(encoding="utf-8").strip()
    return folder if (folder / "meta.json").is_file() else None


class DocInfos:
    """What an answer shows of each document of one published version, built once per document: a scanned
    book's thousands of places are not read again for every passage of every question."""

    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self._docs = docs
        self._built: dict[str, DocInfo] = {}

    def __call__(self, doc_id: str) -> DocInfo:
        found = self._built.get(doc_id)
        if found is None:
            found = self._built[doc_id] = doc_info(doc_id, self._docs[doc_id])
        return found


def doc_info(doc_id: str, doc: dict[str, Any]) -> DocInfo:
    """What an answer shows of a document, from its manifest entry (docs.json, or a row of the database's)."""
    places = tuple(Place(int(start), str(label), bool(ocr)) for start, label, ocr in doc.get("places") or ())
    return DocInfo(doc_id=doc_id, title=doc["title"], date=doc.get("date"), source=doc.get("source"), places=places)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
