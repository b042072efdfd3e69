"""Indexing throughput: `citebot index` from scratch against the bare encoder on the same passages.

The corpus is made of real sentences (bench/synthetic.py's pool) in documents of
about 30 paragraphs. The pipeline (read, chunk, embed passages and sentences, BM25,
write) is timed in process with the model loaded, as shipped (ONNX Runtime) and with
torch. The baseline is `SentenceTransformer.encode` on exactly the texts the pipeline
embedded, at its best batch size; also the bare ONNX session on the same texts, torch
on one thread, and the ONNX vectors' least cosine to torch's.

    .venv/bin/python bench/throughput.py [--passages 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import pool_sentences  # noqa: E402
from index.ingest.build import update_index  # noqa: E402
from index.ingest.chunking import embedding_text  # noqa: E402
from index.embed.embedder import Embedder  # noqa: E402
from index.embed.encoders import open_encoder  # noqa: E402
from index.settings import Settings  # noqa: E402
from index.store.files import current_version, read_version  # noqa: E402

BATCH_SIZES = (8, 16, 32)
ONE_THREAD_SAMPLE = 300  # passages encoded on one thread: enough for a rate
SENTENCES_PER_PARAGRAPH = 4
PARAGRAPHS_PER_DOCUMENT = 30


def make_corpus(folder: Path, passages: int) -> None:
    """Documents of consecutive pool sentences: about one passage per 7 sentences."""
    sentences = pool_sentences(passages * 8)
    per_doc = SENTENCES_PER_PARAGRAPH * PARAGRAPHS_PER_DOCUMENT
    for n, start in enumerate(range(0, len(sentences), per_doc)):
        part = sentences[start : start + per_doc]
        paragraphs = [" ".join(part[i : i + SENTENCES_PER_PARAGRAPH]) for i in range(0, len(part), SENTENCES_PER_PARAGRAPH)]
        (folder / f"doc-{n:05d}.txt").write_text(f"---\ntitle: Document {n}\n---\n" + "\n\n".join(paragraphs))


def rate(count: int, call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return count / (time.perf_counter() - start), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000, help="about this many passages (300: a minute)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    embedder = Embedder()
    embedder.encode_passages(["warm up the encoder"] * 16)
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus"
        corpus.mkdir()
        make_corpus(corpus, args.passages)
        shipped = Settings(corpus_dir=corpus, index_dir=Path(scratch) / "index")
        start = time.perf_counter()
        onnx = open_encoder(shipped, export_if_missing=True)
        export_seconds = time.perf_counter() - start
        onnx.encode_passages(["warm up the encoder"] * 16)
        pipeline_rate, report = rate_of_index(shipped, onnx)
        torch_rate, _ = rate_of_index(Settings(corpus_dir=corpus, index_dir=Path(scratch) / "torch"), embedder)
        # As a rebuild past CITEBOT_RUNTIME_CHECK_PASSAGES runs: the runtimes timed on a sample, the faster kept
        # (torch is imported already here, which a fresh `citebot index` pays about 5 s for).
        checked_rate, checked = rate_of_index(Settings(corpus_dir=corpus, index_dir=Path(scratch) / "checked",
                                                       runtime_check_passages=1), onnx)
        version = read_version(current_version(shipped.index_dir))
        titles = {doc_id: doc["title"] for doc_id, doc in version.docs.items()}
        texts = [embedding_text(titles[c.doc_id], c.text) for c in version.chunks]
    model = embedder._model  # the bare SentenceTransformer: the baseline, nothing of ours around it
    raw, reference = {}, None
    for batch in BATCH_SIZES:
        raw[batch], reference = rate(len(texts), lambda: model.encode(texts, batch_size=batch, normalize_embeddings=True))
    best_batch = max(raw, key=raw.get)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    sample = texts[:ONE_THREAD_SAMPLE]
    one_thread = rate(len(sample), lambda: model.encode(sample, batch_size=best_batch))[0]
    torch.set_num_threads(threads)
    onnx_raw = {b: rate(len(texts), lambda: bare_onnx(onnx, texts, b))[0] for b in (8, 16, 32)}
    onnx_vectors = onnx.encode_passages(texts)
    result = {"passages": len(texts), "words_per_passage": float(np.mean([len(t.split()) for t in texts])),
              "pipeline_rate": pipeline_rate, "torch_pipeline_rate": torch_rate, "raw_rate": raw,
              "checked_pipeline_rate": checked_rate, "checked_runtime": checked.runtime,
              "best_batch": best_batch, "ratio": pipeline_rate / raw[best_batch], "threads": threads,
              "one_thread_rate": one_thread, "onnx_raw_rate": onnx_raw, "export_s": export_seconds,
              "onnx_ratio": pipeline_rate / max(onnx_raw.values()),
              "onnx_min_cosine": float(np.min(np.sum(onnx_vectors * reference, axis=1)))}
    print(f"{len(texts)} passages of {result['words_per_passage']:.0f} words: citebot index {pipeline_rate:.1f}/s "
          f"(torch: {torch_rate:.1f}/s; choosing its runtime: {checked_rate:.1f}/s, {checked.runtime}); "
          f"SentenceTransformer.encode {raw[best_batch]:.1f}/s at batch {best_batch} "
          f"(ratio {result['ratio']:.2f}); by batch {', '.join(f'{b}: {r:.1f}' for b, r in raw.items())}; "
          f"1 thread {one_thread:.1f}/s; bare ONNX {', '.join(f'{b}: {r:.1f}' for b, r in onnx_raw.items())} "
          f"(ratio {result['onnx_ratio']:.2f}); cosine ONNX to torch >= {result['onnx_min_cosine']:.6f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


def rate_of_index(settings: Settings, encoder) -> tuple[float, object]:
    """Passages per second of building the index from scratch with `encoder` already loaded."""
    start = time.perf_counter()
    report = update_index(settings, lambda: encoder)
    return report.chunks / (time.perf_counter() - start), report


def bare_onnx(encoder, texts: list[str], batch_size: int) -> None:
    """The ONNX session alone: tokenise and run, batches sorted by length, no pooling of sentences."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in range(0, len(texts), batch_size):
        encoder._token_embeddings(encoder._tokenizer.encode_batch([texts[i] for i in order[start : start + batch_size]]))


if __name__ == "__main__":
    main()
