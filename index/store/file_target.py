"""`citebot index` into version folders: the kept passages carried over, the new added, published by one rename.

A version is written complete beside the current one, fsynced, then published by
replacing the CURRENT pointer: a crash at any point leaves the previous version serving.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from index.schema import Chunk
from index.settings import Settings
from index.store.chunk_table import write_chunks
from index.store.files import (KEEP_VERSIONS, POINTER, BuildBusy, IndexDamaged, IndexWriteError, Version,
                               current_version, error_line, file_sha256, meta_mismatch, read_version)
from index.store.lexical import LexicalIndex
from index.store.vectors import EXACT, VectorIndexInfo, empty_exact, fit, kind_of, wanted_kind


class FileTarget:
    """Where `citebot index` writes by default: settings.index_dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def lock(self) -> Iterator[None]:
        with build_lock(self.settings.index_dir):
            yield

    def previous(self, expected: dict[str, Any]) -> tuple[Version | None, str | None]:
        """The current version to build on, or why everything must be embedded again."""
        folder = current_version(self.settings.index_dir)
        if folder is None:
            return None, None
        try:
            version = read_version(folder)
        except IndexDamaged as error:
            return None, f"the current version was damaged ({error.reason})"
        mismatch = meta_mismatch(version.meta, expected)
        if mismatch is None:
            return version, None
        key, built, wanted = mismatch
        return None, f"the {'index format' if key == 'format' else key} changed ({built} → {wanted})"

    def wants_conversion(self, previous: Version) -> bool:
        """Does the vector_index setting want the other kind of index for this size?"""
        built = previous.meta.get("vector_index", {}).get("kind", EXACT)  # indexes built before the switch were exact
        count = int(previous.meta["chunks"])
        return wanted_kind(self.settings.vector_index, count, self.settings.exact_search_max, built) != built

    def publish(self, previous: Version | None, meta: dict[str, Any], docs: dict[str, dict[str, Any]],
                fresh: set[str], dropping: set[str], chunks: list[Chunk], vectors: np.ndarray,
                units: np.ndarray) -> dict[str, Any]:
        """Write a new version: the previous one's passages but `dropping`'s, and `chunks`; return its meta."""
        dim = int(meta["dim"])
        merged, index, all_units = _merge(previous, dropping, chunks, vectors, units, dim)
        index, info, converted = self._fit(previous, index, all_units)
        published = {**meta, "chunks": len(merged), "vector_index": info.to_json()}
        folder = write_version(self.settings.index_dir, published, merged, index, all_units, docs)
        return {**published, "version": folder.name, **({"converted": converted} if converted else {})}

    def _fit(self, previous: Version | None, index: Any, units: np.ndarray) -> tuple[Any, VectorIndexInfo, str | None]:
        """Exact or approximate by the settings and the new size; the sentence vectors serve as recall queries."""
        s = self.settings
        before = kind_of(index)
        known = previous.meta.get("vector_index") if previous else None
        index, info = fit(index, s.vector_index, s.exact_search_max, s.approximate_recall, units,
                          VectorIndexInfo(**known) if known else None)
        converted = None
        if previous is not None and info.kind != before:
            converted = f"now {info.kind}" + (f" (IVF, {info.nlist} lists, nprobe {info.nprobe}, "
                                              f"recall@10 {info.recall_at_10})" if info.nlist else "")
        return index, info, converted


def _merge(previous: Version | None, dropping: set[str], new_chunks: list[Chunk], new_vectors: np.ndarray,
           new_units: np.ndarray, dim: int) -> tuple[list[Chunk], Any, np.ndarray]:
    """Carry over the kept chunks' passages, vectors and sentence vectors; add the new ones."""
    vectors = previous.vectors if previous else empty_exact(dim)
    kept, kept_rows, row = [], [], 0
    for chunk in previous.chunks if previous else []:
        if chunk.doc_id not in dropping:
            kept.append(chunk)
            kept_rows.append(np.arange(row, row + len(chunk.sentences)))
        row += len(chunk.sentences)
    gone = [c.chunk_id for c in (previous.chunks if previous else []) if c.doc_id in dropping]
    if gone:
        vectors.remove_ids(np.asarray(gone, dtype=np.int64))
    if new_chunks:
        vectors.add_with_ids(new_vectors, np.asarray([c.chunk_id for c in new_chunks], dtype=np.int64))
    old_units = previous.units[np.concatenate(kept_rows)] if kept_rows else np.zeros((0, dim), np.float16)
    return kept + new_chunks, vectors, np.concatenate([old_units, new_units.astype(np.float16)])


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



def file_records(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file of a version folder but meta.json, by relative path."""
    return {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "meta.json"}



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
