"""Query latency, memory and disk of the whole `ask` pipeline as the index grows to a million passages.

For each size a synthetic index (bench/synthetic.py: real sentence embeddings, real
sentences) is written the way `citebot index` writes one, vector index chosen by the
default settings. A fresh process then opens it with the real model and answers the
eval questions; the baseline is FAISS search alone on the same index in the same run.

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000,1000000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import embedded_pool, synthetic_index, write_synthetic_index  # noqa: E402
from index.evaluate.run import percentile  # noqa: E402
from index.embed.embedder import BUNDLED_MODEL_ID, Embedder  # noqa: E402
from index.embed.onnx_encoder import ensure_onnx_encoder  # noqa: E402
from index.settings import Settings  # noqa: E402
from index.store.files import current_version  # noqa: E402

POOL = 20_000  # sentences; all the standard library's docstrings give about this many


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timings(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 0.5) * 1000, "p95": percentile(values, 0.95) * 1000}


def serve(index_dir: Path, rounds: int) -> dict:
    """Run in a fresh process: open the index as the bot does and time every stage of answering.

    The first pass meets every question for the first time (its pages of the memory-mapped
    files may still be on disk); the later passes are the warm figures.
    """
    from index.store.lexical import terms
    from index.pipeline import Pipeline

    settings = Settings(index_dir=index_dir)
    start = time.perf_counter()
    pipeline = Pipeline.open(settings)
    load_seconds = time.perf_counter() - start
    opened = rss_mb()
    encoder = pipeline.embedder
    questions = [json.loads(line)["question"] for line in (ROOT / "eval/qa.jsonl").read_text().splitlines() if line]
    first_pass = []
    for question in questions:
        start = time.perf_counter()
        pipeline.ask(question)
        first_pass.append(time.perf_counter() - start)
    stages: dict[str, list[float]] = {"ask": [], "encode": [], "faiss": [], "bm25": []}
    for _ in range(rounds):
        for question in questions:
            start = time.perf_counter()
            pipeline.ask(question)
            stages["ask"].append(time.perf_counter() - start)
            vector = encoder.encode_query(question)
            for name, call in (("encode", lambda: encoder.encode_query(question)),
                               ("faiss", lambda: pipeline.store.dense_search(vector, settings.candidates)),
                               ("bm25", lambda: pipeline.store.lexical.search(terms(question), settings.candidates))):
                start = time.perf_counter()
                call()
                stages[name].append(time.perf_counter() - start)
    return {"load_s": load_seconds, "rss_open_mb": opened, "rss_served_mb": rss_mb(),
            "encoder": type(encoder).__name__, "questions": len(questions), "rounds": rounds,
            "first_pass": timings(first_pass), **{name: timings(v) for name, v in stages.items()}}


def exact_search_ms(vectors, queries) -> dict[str, float]:
    """FAISS exact search over the same vectors: what the index would cost without the IVF switch."""
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    values = []
    for query in queries[:40]:
        start = time.perf_counter()
        flat.search(query.reshape(1, -1), 30)
        values.append(time.perf_counter() - start)
    return timings(values)


def question_recall(index, vectors, questions) -> float:
    """Recall@10 of `index` against exact search over `vectors` (row = chunk id), for real question vectors."""
    import faiss

    from index.store.vectors import recall_at

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    return recall_at(index, questions, exact.search(questions, 10)[1])


def real_embeddings_recall(sentence_vectors, questions, target: float) -> dict:
    """The IVF index over real embeddings only (the pool's sentences), tuned as a build tunes it."""
    from index.store.vectors import build_ivf

    ids = np.arange(len(sentence_vectors), dtype=np.int64)
    index, info = build_ivf(ids, sentence_vectors, target, sentence_vectors)
    return {**info.to_json(), "question_recall_at_10": question_recall(index, sentence_vectors, questions)}


def measure(size: int, sentences, sentence_vectors, scratch: Path, rounds: int, embedder, questions) -> dict:
    settings = Settings(index_dir=scratch / f"index-{size}")
    ensure_onnx_encoder(settings.index_dir, BUNDLED_MODEL_ID, lambda: embedder)  # as `citebot index` does
    start = time.perf_counter()
    data = synthetic_index(size, sentences, sentence_vectors)
    folder = current_version(settings.index_dir) or write_synthetic_index(settings.index_dir, settings, data)
    write_seconds = time.perf_counter() - start
    exact = exact_search_ms(data.vectors, sentence_vectors[:: max(1, len(sentence_vectors) // 40)])
    import faiss

    recall = question_recall(faiss.read_index(str(folder / "vectors.faiss")), data.vectors, questions)
    del data
    served = subprocess.run([sys.executable, __file__, "--serve", str(settings.index_dir), "--rounds", str(rounds)],
                            check=True, capture_output=True, text=True)
    meta = json.loads((folder / "meta.json").read_text())
    disk = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    disk["bm25"] = sum(p.stat().st_size for p in (folder / "bm25").iterdir())
    return {"size": size, "build_s": write_seconds, "vector_index": meta["vector_index"], "exact_faiss": exact,
            "question_recall_at_10": recall,
            "disk_mb": {k: v / 2**20 for k, v in disk.items()}, **json.loads(served.stdout.splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=2, help="warm passes over the eval questions, after the first")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", type=Path, help="build the indexes in this folder and reuse them on the next run")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(args.serve, args.rounds)))
        return
    embedder = Embedder()
    sentences, sentence_vectors, questions = embedded_pool(embedder, POOL)
    real = real_embeddings_recall(sentence_vectors, questions, Settings().approximate_recall)
    print(f"IVF over {len(sentence_vectors)} real sentence embeddings: {real['nlist']} lists, nprobe {real['nprobe']}; "
          f"recall@10 {real['recall_at_10']:.3f} on the build's check, {real['question_recall_at_10']:.3f} "
          f"on the eval questions", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in (int(s) for s in args.sizes.split(",")):
            result = measure(size, sentences, sentence_vectors, args.keep or Path(scratch), args.rounds, embedder,
                             questions)
            results.append(result)
            print(f"{size:>9,} passages  {result['vector_index']['kind']:11s} first {result['first_pass']['p95']:6.1f} "
                  f"| ask p50 {result['ask']['p50']:6.1f} "
                  f"p95 {result['ask']['p95']:6.1f} ms | FAISS p50 {result['faiss']['p50']:6.2f} "
                  f"p95 {result['faiss']['p95']:6.2f} | exact {result['exact_faiss']['p50']:6.2f} | "
                  f"BM25 p95 {result['bm25']['p95']:6.2f} | recall {result['question_recall_at_10']:.3f} | RSS {result['rss_served_mb']:6.0f} MB | "
                  f"disk {sum(result['disk_mb'].values()):7.0f} MB | built in {result['build_s']:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"real_embeddings": real, "sizes": results}, indent=1))


if __name__ == "__main__":
    main()
