"""The passages of an index version, read from chunks.jsonl only when a question needs them.

A million passages as Python objects would take gigabytes and seconds to load; here
they cost three integers each (id, byte offset, first sentence row), kept in
chunks.idx.npy beside the file, and the file itself is memory-mapped.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from index.schema import Chunk

CHUNKS_FILE = "chunks.jsonl"
INDEX_FILE = "chunks.idx.npy"  # rows of (chunk id, byte offset of its line, first row in units.npy)


def write_chunks(folder: Path, chunks: Iterable[Chunk]) -> None:
    """chunks.jsonl, one passage a line, and its index of offsets."""
    rows, offset, unit = [], 0, 0
    with open(folder / CHUNKS_FILE, "wb") as handle:
        for chunk in chunks:
            line = (json.dumps(chunk.to_record(), ensure_ascii=False) + "\n").encode("utf-8")
            handle.write(line)
            rows.append((chunk.chunk_id, offset, unit))
            offset += len(line)
            unit += len(chunk.sentences)
    np.save(folder / INDEX_FILE, np.asarray(rows, dtype=np.int64).reshape(-1, 3))


def read_all_chunks(folder: Path) -> list[Chunk]:
    """Every passage, in file order (which is the order of the rows of units.npy)."""
    with open(folder / CHUNKS_FILE, encoding="utf-8") as handle:
        return [Chunk.from_record(json.loads(line)) for line in handle if line.strip()]


class ChunkTable(Mapping[int, Chunk]):
    """Chunk id → Chunk, parsed from the memory-mapped file on each access."""

    def __init__(self, folder: Path) -> None:
        path = folder / CHUNKS_FILE
        self._size = path.stat().st_size
        with open(path, "rb") as handle:
            self._data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if self._size else b""
        rows = _index_rows(folder)
        order = np.argsort(rows[:, 0], kind="stable")
        self._ids = np.ascontiguousarray(rows[order, 0])
        self._offsets = rows[:, 1]  # in file order: a line ends where the next begins
        self._position = order  # sorted position → file position
        self._first_unit = rows[:, 2]

    def _file_position(self, chunk_id: int) -> int:
        at = int(np.searchsorted(self._ids, chunk_id))
        if at == len(self._ids) or self._ids[at] != chunk_id:
            raise KeyError(chunk_id)
        return int(self._position[at])

    def __getitem__(self, chunk_id: int) -> Chunk:
        row = self._file_position(chunk_id)
        end = int(self._offsets[row + 1]) if row + 1 < len(self._offsets) else self._size
        return Chunk.from_record(json.loads(self._data[int(self._offsets[row]) : end]))

    def first_unit(self, chunk_id: int) -> int:
        """Row in units.npy of the passage's first sentence."""
        return int(self._first_unit[self._file_position(chunk_id)])

    def __iter__(self) -> Iterator[int]:
        return (int(i) for i in self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, chunk_id: object) -> bool:
        try:
            self._file_position(int(chunk_id))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            return False
        return True


def _index_rows(folder: Path) -> np.ndarray:
    """The offsets file, or the same rows computed from the passages (versions written before it existed)."""
    if (folder / INDEX_FILE).is_file():
        return np.load(folder / INDEX_FILE)
    rows, offset, unit = [], 0, 0
    with open(folder / CHUNKS_FILE, "rb") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                rows.append((record["chunk_id"], offset, unit))
                unit += len(record["sentences"])
            offset += len(line)
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)
