"""The index on disk: immutable version folders, and a CURRENT pointer switched atomically.

A version folder holds the FAISS vectors, the BM25 index, the chunks, the document
manifest and a meta.json that says what the vectors mean (model, chunking). Loading
checks meta.json against the settings, so a stale index is refused, not misread.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from index.store.chunk_table import ChunkTable, read_all_chunks, write_chunks
from index.store.lexical import LexicalIndex
from index.schema import Chunk, DocInfo

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
        self._vectors = vectors
        self._unit_vectors = unit_vectors  # one row per sentence, chunk after chunk in file order

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
        doc = self.docs[doc_id]
        return DocInfo(doc_id=doc_id, title=doc["title"], date=doc.get("date"), source=doc.get("source"))

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the `k` nearest chunks."""
        k = min(k, self._vectors.ntotal)
        if k == 0:
            return []
        scores, ids = self._vectors.search(query.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

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
def build_lock(index_dir: Path) -> Iterator[None]:
    """One rebuild of an index folder at a time; a second is refused with a clear message."""
    with _writing(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / "build.lock", "a+", encoding="utf-8")
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BuildBusy(f"another rebuild of {index_dir} is running ({holder}); "
                            "try again when it has finished") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _reading(folder: Path, what: str) -> Iterator[None]:
    """Anything a damaged file makes a reader raise (FAISS's RuntimeError, numpy's ValueError, ...) as one error."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - every library fails a truncated file its own way
        raise IndexDamaged(folder, f"{what}: {error_line(error)}") from None


def file_records(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file of a version folder but meta.json, by relative path."""
    return {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "meta.json"}


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


def write_version(index_dir: Path, meta: dict[str, Any], chunks: list[Chunk], vectors: Any, unit_vectors: np.ndarray,
                  docs: dict[str, dict[str, Any]]) -> Path:
    """Write a complete new version beside the current one, then publish it in one rename.

    `vectors` is a FAISS index (index.store.vectors) holding exactly the chunks' ids; `unit_vectors` has
    one row per sentence, chunk after chunk in the order of `chunks`.
    """
    name = f"v{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    staging = index_dir / f".{name}.partial"
    try:
        with _writing(index_dir):
            _write_staged(staging, meta, name, chunks, vectors, unit_vectors, docs)
            staging.rename(index_dir / name)
            _publish(index_dir, name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # what a failed write left; gone after a rename anyway
    _prune(index_dir, keep=name)
    return index_dir / name


def _write_staged(staging: Path, meta: dict[str, Any], name: str, chunks: list[Chunk], vectors: Any,
                  unit_vectors: np.ndarray, docs: dict[str, dict[str, Any]]) -> None:
    import faiss

    staging.mkdir(parents=True)
    faiss.write_index(vectors, str(staging / "vectors.faiss"))
    np.save(staging / "units.npy", np.asarray(unit_vectors, dtype=np.float16))  # half the disk; cosines agree to 1e-3
    (staging / "bm25").mkdir()
    LexicalIndex.build([c.text for c in chunks], [c.chunk_id for c in chunks]).save(staging / "bm25")
    write_chunks(staging, chunks)
    _write_json(staging / "docs.json", docs)
    _write_json(staging / "meta.json", {**meta, "version": name, "files": file_records(staging)})
    _fsync_tree(staging)


@contextmanager
def _writing(index_dir: Path) -> Iterator[None]:
    try:
        yield
    except (OSError, RuntimeError) as error:  # FAISS reports a failed write as RuntimeError
        detail = getattr(error, "strerror", None) or error_line(error)
        raise IndexWriteError(f"cannot write the index in {index_dir} ({detail}); "
                              "the previous version, if any, keeps serving") from None


def _publish(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".{POINTER}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / POINTER)
    _fsync_dir(index_dir)


def _prune(index_dir: Path, keep: str) -> None:
    """Keep the new version and the one before it (a reader may still have it open)."""
    versions = sorted(p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("v"))
    for old in versions[: max(0, len(versions) - KEEP_VERSIONS)]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for partial in index_dir.glob(".*.partial"):
        if partial.name != f".{keep}.partial":
            shutil.rmtree(partial, ignore_errors=True)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
