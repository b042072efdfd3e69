"""Text and vectors for benchmarks beyond what can be embedded in minutes.

A pool of real sentences (the bundled corpus, Python's reference topics and the
standard library's docstrings) is embedded once by the real model and cached. A
synthetic passage is a run of consecutive pool sentences, as in a real document;
its vector is the mean of its sentences' real vectors plus a little noise (so no
two passages coincide), its sentence vectors are the real ones. Nearest-neighbour
structure is thus that of real embeddings, not of uniform random vectors.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.ingest.chunking import quotable_units
from index.ingest.readers import read_document
from index.schema import Chunk

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "citebot-bench-cache"
MIN_WORDS, MAX_WORDS = 6, 60
NOISE = 0.02  # per dimension; cosine of a passage to its noiseless mean is about 0.93


def pool_sentences(limit: int) -> list[str]:
    """Up to `limit` distinct English sentences, in document order: the corpus first."""
    seen: dict[str, None] = {}
    for text in _texts():
        for start, end in quotable_units(text):
            sentence = " ".join(text[start:end].split())
            if MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
                seen.setdefault(sentence)
                if len(seen) >= limit:
                    return list(seen)
    return list(seen)


def _texts():
    for path in sorted((ROOT / "corpus").iterdir()):
        yield read_document(path, path.name).text
    import pydoc_data.topics

    yield from pydoc_data.topics.topics.values()
    for source in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if {"test", "idlelib", "site-packages", "dist-packages"} & set(source.parts):
            continue
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 200:
                    yield doc


def pool_vectors(embedder, sentences: list[str]) -> np.ndarray:
    """The sentences' real embeddings, cached on disk by the sentences' hash."""
    key = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]
    path = CACHE / f"pool-{len(sentences)}-{key}.npy"
    if path.is_file():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    vectors = embedder.encode_passages(sentences, show_progress=True)
    np.save(path, vectors)
    return vectors


def eval_questions() -> list[str]:
    return [json.loads(line)["question"] for line in (ROOT / "eval/qa.jsonl").read_text().splitlines() if line]


def embedded_pool(embedder, size: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The pool's sentences, their vectors, and the eval questions' vectors: what the size benchmarks start from."""
    sentences = pool_sentences(size)
    return sentences, pool_vectors(embedder, sentences), embedder.encode_passages(eval_questions())


@dataclass
class Synthetic:
    chunks: list[Chunk]
    vectors: np.ndarray  # float32, one row per chunk, normalised
    units: np.ndarray  # float16, one row per sentence, chunk after chunk
    docs: dict[str, dict]


def synthetic_index(count: int, sentences: list[str], sentence_vectors: np.ndarray, seed: int = 7,
                    per_doc: int = 32) -> Synthetic:
    """`count` passages of 3 to 6 consecutive pool sentences, `per_doc` passages per document."""
    rng = np.random.default_rng(seed)
    dim = sentence_vectors.shape[1]
    lengths = rng.integers(3, 7, size=count)
    starts = rng.integers(0, len(sentences) - 6, size=count)
    vectors = np.empty((count, dim), dtype=np.float32)
    unit_rows = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)])
    chunks, docs = [], {}
    for i, (start, length) in enumerate(zip(starts, lengths)):
        doc_id = f"synthetic/doc-{i // per_doc:06d}.txt"
        parts = sentences[start : start + length]
        text, spans, at = " ".join(parts), [], 0
        for part in parts:
            spans.append((at, at + len(part)))
            at += len(part) + 1
        chunks.append(Chunk(i, doc_id, text, 0, len(text), tuple(spans)))
        vectors[i] = sentence_vectors[start : start + length].mean(axis=0)
        if doc_id not in docs:
            docs[doc_id] = {"title": f"Synthetic document {i // per_doc}", "date": None, "source": None,
                            "content_hash": doc_id, "chunk_ids": []}
        docs[doc_id]["chunk_ids"].append(i)
    vectors += rng.normal(0, NOISE, size=vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Synthetic(chunks, vectors, sentence_vectors[unit_rows].astype(np.float16), docs)


def write_synthetic_index(index_dir: Path, settings, data: Synthetic, corpus_dir: Path | None = None) -> Path:
    """Publish `data` as an index version that `Pipeline.open(settings)` accepts.

    With `corpus_dir`, each document is also written there, with its hash in the manifest,
    so `citebot index` over that folder finds the synthetic documents unchanged.
    """
    from index.ingest.build import expected_meta, fingerprint, scan_corpus
    from index.store.file_target import write_version
    from index.store.files import FORMAT_VERSION
    from index.store.vectors import empty_exact, fit

    if corpus_dir is not None:
        texts: dict[str, list[str]] = {}
        for chunk in data.chunks:
            texts.setdefault(chunk.doc_id, []).append(chunk.text)
        for doc_id, parts in texts.items():
            path = corpus_dir / doc_id
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"---\ntitle: {data.docs[doc_id]['title']}\n---\n" + "\n\n".join(parts), encoding="utf-8")
            data.docs[doc_id]["content_hash"] = hashlib.sha256(path.read_bytes()).hexdigest()
    vectors = empty_exact(data.vectors.shape[1])
    vectors.add_with_ids(data.vectors, np.arange(len(data.chunks), dtype=np.int64))
    vectors, info = fit(vectors, settings.vector_index, settings.exact_search_max, settings.approximate_recall,
                        data.units, None)
    meta = {"format": FORMAT_VERSION, **expected_meta(settings), "dim": data.vectors.shape[1],
            "documents": len(data.docs), "chunks": len(data.chunks), "next_chunk_id": len(data.chunks),
            "failed_docs": [], "vector_index": info.to_json(), "synthetic": True,
            "corpus_fingerprint": fingerprint(scan_corpus(corpus_dir)[0]) if corpus_dir is not None else ""}
    return write_version(index_dir, meta, data.chunks, vectors, data.units, data.docs)
