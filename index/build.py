"""Build the index from the corpus folder: read, chunk, embed, publish a new version."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.chunking import chunk_document, embedding_text
from index.embedder import BUNDLED_MODEL_ID, Embedder
from index.lexical import LEXICAL_VERSION
from index.readers import SUPPORTED_SUFFIXES, DocumentError, read_document
from index.schema import Chunk, Document, Span
from index.settings import Settings
from index.store import FORMAT_VERSION, current_version, write_version


class CorpusError(Exception):
    """The corpus folder is missing or holds nothing that can be indexed."""


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    doc_id: str
    sha256: str


@dataclass(frozen=True)
class BuildReport:
    documents: int
    chunks: int
    failed: list[tuple[str, str]] = field(default_factory=list)  # (doc_id, reason)
    seconds: float = 0.0
    up_to_date: bool = False

    def summary(self) -> str:
        state = "up to date" if self.up_to_date else f"built in {self.seconds:.1f} s"
        lines = [f"Index {state}: {self.documents} documents, {self.chunks} passages."]
        lines += [f"  skipped {doc_id}: {reason}" for doc_id, reason in self.failed]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"up_to_date": self.up_to_date, "documents": self.documents, "chunks": self.chunks,
                "failed": [{"doc_id": d, "error": e} for d, e in self.failed], "seconds": self.seconds}


def expected_meta(settings: Settings) -> dict[str, Any]:
    """The parts of meta.json that must match the settings for an index to be usable."""
    return {
        "model": settings.embed_model or BUNDLED_MODEL_ID,
        "chunking": settings.chunking_signature(),
        "lexical": LEXICAL_VERSION,
    }


def scan_corpus(corpus_dir: Path) -> list[CorpusFile]:
    """Every supported file under the corpus folder (hidden ones skipped), with its content hash."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist")
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(CorpusFile(path, relative.as_posix(), hashlib.sha256(path.read_bytes()).hexdigest()))
    return files


def fingerprint(files: list[CorpusFile]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.doc_id}\0{file.sha256}\n".encode())
    return digest.hexdigest()


def index_is_current(settings: Settings, files: list[CorpusFile]) -> dict[str, Any] | None:
    """The current version's meta when it was built from exactly these files with these settings."""
    import json

    folder = current_version(settings.index_dir)
    if folder is None:
        return None
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    same_settings = all(meta.get(k) == v for k, v in expected_meta(settings).items())
    fresh = meta.get("format") == FORMAT_VERSION and meta.get("corpus_fingerprint") == fingerprint(files)
    return meta if same_settings and fresh else None


def update_index(settings: Settings, get_embedder: Callable[[], Embedder], show_progress: bool = False) -> BuildReport:
    """Rebuild when the corpus or the settings changed; the model is loaded only then."""
    files = scan_corpus(settings.corpus_dir)
    current = index_is_current(settings, files)
    if current:
        return BuildReport(current["documents"], current["chunks"], current.get("failed_docs", []), up_to_date=True)
    return build_index(settings, files, get_embedder(), show_progress)


def build_index(settings: Settings, files: list[CorpusFile], embedder: Embedder,
                show_progress: bool = False) -> BuildReport:
    """Read, chunk and embed every file, then publish the result as the current index version."""
    started = time.perf_counter()
    documents, failed = _read_all(files)
    if not documents:
        reasons = "; ".join(f"{doc_id}: {reason}" for doc_id, reason in failed) or "no supported files"
        raise CorpusError(f"nothing in {settings.corpus_dir} could be indexed ({reasons})")
    chunks: list[Chunk] = []
    for doc in documents:
        chunks += chunk_document(doc, len(chunks), embedder.count_tokens, settings.chunk_tokens,
                                 settings.chunk_overlap_tokens)
    titles = {doc.doc_id: doc.title for doc in documents}
    texts = [embedding_text(titles[c.doc_id], c.text) for c in chunks]
    spans = [_shift(c.sentences, len(text) - len(c.text)) for c, text in zip(chunks, texts)]
    vectors, unit_vectors = embedder.encode_with_units(texts, spans, show_progress)
    meta = {
        "format": FORMAT_VERSION,
        **expected_meta(settings),
        "dim": embedder.dim,
        "embedding_text": "title + newline + passage; sentence vectors pooled from the passage's tokens",
        "libraries": _library_versions(),
        "corpus_fingerprint": fingerprint(files),
        "documents": len(documents),
        "chunks": len(chunks),
        "failed_docs": failed,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_version(settings.index_dir, meta, chunks, vectors, unit_vectors, _manifest(documents, chunks))
    return BuildReport(len(documents), len(chunks), failed, round(time.perf_counter() - started, 2))


def _shift(spans: tuple[Span, ...], by: int) -> list[Span]:
    return [(start + by, end + by) for start, end in spans]


def _read_all(files: list[CorpusFile]) -> tuple[list[Document], list[tuple[str, str]]]:
    documents, failed = [], []
    for file in files:
        try:
            documents.append(read_document(file.path, file.doc_id))
        except DocumentError as error:
            failed.append((file.doc_id, str(error)))
        except OSError as error:
            failed.append((file.doc_id, f"cannot read file ({error.strerror or error})"))
    return documents, failed


def _manifest(documents: list[Document], chunks: list[Chunk]) -> dict[str, dict[str, Any]]:
    chunk_ids: dict[str, list[int]] = {doc.doc_id: [] for doc in documents}
    for chunk in chunks:
        chunk_ids[chunk.doc_id].append(chunk.chunk_id)
    return {
        doc.doc_id: {"title": doc.title, "date": doc.date, "source": doc.source,
                     "content_hash": doc.content_hash, "chunk_ids": chunk_ids[doc.doc_id]}
        for doc in documents
    }


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = ("faiss-cpu", "sentence-transformers", "transformers", "torch", "bm25s", "llama-index-core")
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found
