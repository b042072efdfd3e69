"""Bring the index up to date with the corpus folder, embedding only what changed.

Every document is hashed; the manifest of the current version (docs.json) says which
hashes are already indexed. Added and changed documents are read, chunked and
embedded; removed and changed ones lose their vectors and passages; the rest is
carried over as it is. The result is written as a new version and published
atomically, so a crash at any point leaves the previous version serving.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.ingest.chunking import chunk_document, embedding_text
from index.embed.embedder import BUNDLED_MODEL_ID
from index.embed.encoders import Encoder, faster_runtime
from index.store.lexical import LEXICAL_VERSION
from index.ingest.formats import SUPPORTED_SUFFIXES, signature_for
from index.ingest.formats.base import ReadLimits, Unread
from index.ingest.formats.ocr import signature as ocr_signature
from index.ingest.reading import PageBar, read_files, read_limits
from index.schema import Chunk, Document, Span
from index.settings import Settings
from index.store import IndexTarget, open_target
from index.store.files import FORMAT_VERSION, error_line, file_sha256


KEPT_NOTE = " (the previously indexed version is kept)"


class CorpusError(Exception):
    """The corpus folder is missing or holds nothing that can be indexed."""


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    doc_id: str
    sha256: str


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # {"doc_id", "error"}
    chunks_embedded: int = 0
    seconds: float = 0.0
    documents: int = 0  # in the index afterwards
    chunks: int = 0
    rebuilt_because: str | None = None  # why everything was re-embedded, when it was
    vector_index: dict[str, Any] = field(default_factory=dict)  # VectorIndexInfo of the published version
    converted: str | None = None  # the vector index changed kind without re-embedding
    runtime: str | None = None  # which runtime a large rebuild embedded with, and why
    ocr_pages: int = 0  # pages read by OCR in this build
    notes: list[dict[str, str]] = field(default_factory=list)  # {"doc_id", "note"}: parts left out of a document read

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed or self.rebuilt_because or self.converted)

    def summary(self) -> str:
        lines = [f"Rebuilt from scratch: {self.rebuilt_because}."] if self.rebuilt_because else []
        if self.up_to_date:
            lines.append(f"Index up to date: {self.documents} documents, {self.chunks} passages.")
        else:
            lines.append(f"Index updated in {self.seconds:.1f} s: {len(self.added)} added, {len(self.changed)} changed, "
                         f"{len(self.removed)} removed, {self.unchanged} unchanged; {self.chunks_embedded} passages "
                         f"embedded. Now {self.documents} documents, {self.chunks} passages.")
        if self.runtime:
            lines.append(self.runtime)
        if self.converted:
            lines.append(f"Vector index {self.converted}, without re-embedding.")
        if self.ocr_pages:
            lines.append(f"{self.ocr_pages} scanned page(s) read by OCR.")
        lines += [f"  note {n['doc_id']}: {n['note']}" for n in self.notes]
        lines += [f"  skipped {f['doc_id']}: {f['error']}" for f in self.failed]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed, "unchanged": self.unchanged,
                "failed": self.failed, "chunks_embedded": self.chunks_embedded, "seconds": self.seconds,
                "documents": self.documents, "chunks": self.chunks, "rebuilt_because": self.rebuilt_because,
                "vector_index": self.vector_index, "converted": self.converted, "runtime": self.runtime,
                "ocr_pages": self.ocr_pages, "notes": self.notes}


def expected_meta(settings: Settings) -> dict[str, Any]:
    """The parts of meta.json that must match the settings for an index to be usable."""
    return {
        "model": settings.embed_model or BUNDLED_MODEL_ID,
        "chunking": settings.chunking_signature(),
        "lexical": LEXICAL_VERSION,
    }


def scan_corpus(corpus_dir: Path) -> tuple[list[CorpusFile], list[dict[str, str]]]:
    """Every supported file under the corpus folder (hidden ones skipped), with its content hash; and the
    files refused before reading ({"doc_id", "error"}): links that lead out of the folder."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist")
    root = corpus_dir.resolve()
    files, refused = [], []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        doc_id = _readable(relative.as_posix())
        if not path.resolve().is_relative_to(root):  # corpus/x.txt -> /etc/passwd was indexed and quoted
            refused.append({"doc_id": doc_id, "error": "a link to a file outside the corpus folder; not followed"})
            continue
        files.append(CorpusFile(path, doc_id, file_sha256(path)))
    return files, refused


def _readable(name: str) -> str:
    """A file name's bytes that are not UTF-8 (kept by Python as lone surrogates) shown as U+FFFD: ids are
    written to JSON as UTF-8, which cannot hold the surrogates."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def update_index(settings: Settings, get_embedder: Callable[[], Encoder], show_progress: bool = False) -> BuildReport:
    """Embed what is new or changed, drop what is gone, publish a new version; the model loads only if needed."""
    started = time.perf_counter()
    target = open_target(settings)
    with target.lock():
        files, refused = scan_corpus(settings.corpus_dir)
        previous, rebuilt_because = target.previous(expected_meta(settings))
        plan = _plan(files, previous, ocr_signature(settings.ocr_languages))
        report = BuildReport(unchanged=len(plan.unchanged), rebuilt_because=rebuilt_because)
        kept = {f.doc_id for f, _ in plan.known_failures} & set(previous.docs if previous else {})
        report.failed = refused + [{"doc_id": f.doc_id, "error": e + (KEPT_NOTE if f.doc_id in kept else "")}
                                   for f, e in plan.known_failures]
        if previous is not None and not (plan.to_read or plan.removed or plan.failure_changes
                                         or target.wants_conversion(previous)):
            report.documents, report.chunks = len(previous.docs), int(previous.meta["chunks"])
            report.vector_index = previous.meta.get("vector_index", {})
            return report
        embedder = get_embedder() if plan.to_read else None
        result = _assemble(settings, target, previous, plan, embedder, report, show_progress)
        report.seconds = round(time.perf_counter() - started, 2)
        return result


@dataclass
class _Plan:
    unchanged: list[str] = field(default_factory=list)
    to_read: list[CorpusFile] = field(default_factory=list)  # added or changed
    removed: list[str] = field(default_factory=list)
    known_failures: list[tuple[CorpusFile, str]] = field(default_factory=list)  # failed before, same bytes
    failure_changes: bool = False  # a failed file disappeared
    fingerprint: str = ""  # of every file's id and hash: what the corpus was when indexed
    ocr: str = ""  # what OCR reads with here (index.ingest.formats.ocr.signature)


def _plan(files: list[CorpusFile], previous: Any, ocr: str) -> _Plan:
    indexed = previous.docs if previous else {}
    failed_before = {f["doc_id"]: f for f in (previous.meta.get("failed_docs", []) if previous else [])}
    plan = _Plan(ocr=ocr)
    present = {f.doc_id for f in files}
    for file in files:
        if file.doc_id in indexed and indexed[file.doc_id]["content_hash"] == file.sha256 \
                and not _read_otherwise(file.doc_id, indexed[file.doc_id], ocr):
            plan.unchanged.append(file.doc_id)
        elif failed_before.get(file.doc_id, {}).get("sha256") == file.sha256 \
                and not _read_otherwise(file.doc_id, failed_before[file.doc_id], ocr):
            plan.known_failures.append((file, failed_before[file.doc_id]["error"]))
        else:
            plan.to_read.append(file)
    plan.removed = sorted(set(indexed) - present)
    plan.failure_changes = bool(set(failed_before) - present)
    plan.fingerprint = fingerprint(files)
    return plan


def _read_otherwise(doc_id: str, entry: dict[str, Any], ocr: str) -> bool:
    """Would the file be read differently today: its format's reader changed, or OCR (installed since, or set
    to other languages) for a file that needed it? Entries from before readers were versioned read as version 1."""
    reader = entry.get("reader") or signature_for(doc_id).split("/")[0] + "/1"
    return reader != signature_for(doc_id) or (entry.get("ocr") is not None and entry["ocr"] != ocr)


def fingerprint(files: list[CorpusFile]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.doc_id}\0{file.sha256}\n".encode())
    return digest.hexdigest()


def _assemble(settings: Settings, target: IndexTarget, previous: Any, plan: _Plan, embedder: Encoder | None,
              report: BuildReport, show_progress: bool) -> BuildReport:
    docs = dict(previous.docs) if previous else {}
    documents, failures = _read_all(plan.to_read, read_limits(settings), show_progress)
    report.ocr_pages = sum(doc.ocr_pages for doc in documents)
    report.notes = [{"doc_id": doc.doc_id, "note": note} for doc in documents for note in doc.notes]
    next_id = int(previous.meta.get("next_chunk_id", 0)) if previous else 0
    documents, new_chunks, chunk_failures = _chunk_all(documents, next_id, embedder, settings, plan.to_read)
    failures += chunk_failures
    failed_meta = [{"doc_id": f.doc_id, "sha256": f.sha256, "error": e} for f, e in plan.known_failures]
    for file, unread in failures:
        report.failed.append({"doc_id": file.doc_id, "error": unread.reason + (KEPT_NOTE if file.doc_id in docs else "")})
        failed_meta.append({"doc_id": file.doc_id, "sha256": file.sha256, "error": unread.reason,
                            "reader": signature_for(file.doc_id),
                            "ocr": plan.ocr if unread.needed_ocr else None})
    replaced = {doc.doc_id for doc in documents if doc.doc_id in docs}
    report.added = sorted(doc.doc_id for doc in documents if doc.doc_id not in docs)
    report.changed, report.removed = sorted(replaced), plan.removed
    dropping = replaced | set(plan.removed)
    for doc_id in dropping:
        docs.pop(doc_id)
    for doc in documents:
        docs[doc.doc_id] = _manifest_entry(doc, [])
    for chunk in new_chunks:
        docs[chunk.doc_id]["chunk_ids"].append(chunk.chunk_id)
    if not docs:
        reasons = "; ".join(f"{f['doc_id']}: {f['error']}" for f in report.failed) or "no supported files"
        raise CorpusError(f"nothing in {settings.corpus_dir} could be indexed ({reasons})")
    titles = {doc.doc_id: doc.title for doc in documents}
    texts = [embedding_text(titles[c.doc_id], c.text) for c in new_chunks]
    spans = [_shift(c.sentences, len(text) - len(c.text)) for c, text in zip(new_chunks, texts)]
    dim = embedder.dim if embedder else int(previous.meta["dim"])
    if embedder is not None:
        embedder, report.runtime = faster_runtime(settings, embedder, texts)
    new_vectors, new_units = (embedder.encode_with_units(texts, spans, show_progress) if new_chunks
                              else (np.zeros((0, dim), np.float32), np.zeros((0, dim), np.float32)))
    meta = {"format": FORMAT_VERSION, **expected_meta(settings), "dim": dim,
            "embedding_text": "title + newline + passage; sentence vectors pooled from the passage's tokens",
            "libraries": _library_versions(), "documents": len(docs),
            "next_chunk_id": next_id + len(new_chunks), "failed_docs": failed_meta,
            "corpus_fingerprint": plan.fingerprint, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    published = target.publish(previous, meta, docs, {doc.doc_id for doc in documents}, dropping, new_chunks,
                               new_vectors, new_units)
    report.chunks_embedded, report.documents, report.chunks = len(new_chunks), len(docs), published["chunks"]
    report.vector_index, report.converted = published["vector_index"], published.get("converted")
    return report


def _read_all(files: list[CorpusFile], limits: ReadLimits,
              show_progress: bool) -> tuple[list[Document], list[tuple[CorpusFile, Unread]]]:
    """Every file read in the worker; with `show_progress`, a bar counts the pages OCR reads (seconds each)."""
    documents, failed = [], []
    bar = PageBar(f"OCR ({limits.ocr_languages})") if show_progress else None
    try:
        outcomes = read_files([(f.path, f.doc_id) for f in files], limits, bar.page if bar else None)
    finally:
        if bar is not None:
            bar.close()
    for file, outcome in zip(files, outcomes):
        if isinstance(outcome, Document):
            documents.append(outcome)
        else:
            failed.append((file, outcome))
    return documents, failed


def _chunk_all(documents: list[Document], next_id: int, embedder: Encoder, settings: Settings,
               files: list[CorpusFile]) -> tuple[list[Document], list[Chunk], list[tuple[CorpusFile, Unread]]]:
    """Each document's chunks, ids running on from `next_id`; a document that cannot be chunked fails alone."""
    by_id = {file.doc_id: file for file in files}
    kept, chunks, failed = [], [], []
    for doc in documents:
        try:
            chunks += chunk_document(doc, next_id + len(chunks), embedder.count_tokens, settings.chunk_tokens,
                                     settings.chunk_overlap_tokens)
            kept.append(doc)
        except Exception as error:  # noqa: BLE001 - e.g. the sentence splitter's TimeoutError on a huge paragraph
            failed.append((by_id[doc.doc_id], Unread(_unexpected(error))))
    return kept, chunks, failed


def _unexpected(error: Exception) -> str:
    return f"could not be processed ({error_line(error)})"


def _manifest_entry(doc: Document, chunk_ids: list[int]) -> dict[str, Any]:
    return {"title": doc.title, "date": doc.date, "source": doc.source, "content_hash": doc.content_hash,
            "chunk_ids": chunk_ids, "reader": doc.reader, "ocr": doc.ocr,
            "places": [[place.start, place.label, place.ocr] for place in doc.places]}


def _shift(spans: tuple[Span, ...], by: int) -> list[Span]:
    return [(start + by, end + by) for start, end in spans]


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("faiss-cpu", "sentence-transformers", "transformers", "torch", "bm25s", "llama-index-core"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found
