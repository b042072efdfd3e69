"""The PostgreSQL store beside the index folder, on the same synthetic passages in the same run.

For each size a synthetic index (bench/synthetic.py: real sentences, real sentence
embeddings) is written both ways: as a version folder, the way `citebot index`
writes one, and into a private PostgreSQL 16 with pgvector (pgserver) through the
same transaction `citebot index` runs. Then, in a fresh process per store, the eval
questions are answered by the whole `ask` pipeline: warm p50/p95, and questions per
second with 1, 2 and 4 clients asking at once. HNSW recall@10 is measured against
exact search over the same vectors, for the eval questions, at several ef_search.

    .venv/bin/python bench/postgres_store.py [--sizes 100000,300000] [--ef-construction 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale import POOL, timings  # noqa: E402
from bench.synthetic import embedded_pool, eval_questions, synthetic_index, write_synthetic_index  # noqa: E402
from index.embed.embedder import BUNDLED_MODEL_ID, Embedder  # noqa: E402
from index.embed.onnx_encoder import ensure_onnx_encoder  # noqa: E402
from index.ingest.build import expected_meta  # noqa: E402
from index.settings import Settings  # noqa: E402
from index.store.files import FORMAT_VERSION  # noqa: E402

EF_SEARCH = (100, 200, 400, 1000)
CLIENTS = (1, 2, 4)


def write_postgres(url: str, settings: Settings, data, ef_construction: int | None = None) -> float:
    """Publish `data` into the database as `citebot index` does (one transaction, HNSW built after the rows)."""
    from index.store.postgres_write import HNSW_EF_CONSTRUCTION, PgTarget

    meta = {"format": FORMAT_VERSION, **expected_meta(settings), "dim": data.vectors.shape[1],
            "documents": len(data.docs), "next_chunk_id": len(data.chunks), "failed_docs": [], "synthetic": True,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    target = PgTarget(url, settings.hnsw_ef_search, ef_construction or HNSW_EF_CONSTRUCTION)
    start = time.perf_counter()
    with target.lock():
        target.publish(None, meta, data.docs, set(data.docs), set(), data.chunks, data.vectors, data.units)
    return time.perf_counter() - start


def hnsw_recall(url: str, vectors: np.ndarray, queries: np.ndarray) -> list[dict]:
    """Recall@10 of pgvector's HNSW search against exact search over the same vectors, and its latency."""
    from index.store.connections import connect

    exact = np.argpartition(-(queries @ vectors.T), 10, axis=1)[:, :10]  # the top 10 as a set: order is not scored
    results = []
    with connect(url) as connection:
        for ef in EF_SEARCH:
            connection.execute(f"SET hnsw.ef_search = {ef}")
            found, spent = [], []
            for query in queries:
                start = time.perf_counter()
                rows = connection.execute("SELECT chunk_id FROM citebot_passages ORDER BY embedding <#> %s LIMIT 10",
                                          (query,)).fetchall()
                spent.append(time.perf_counter() - start)
                found.append({row[0] for row in rows})
            recall = float(np.mean([len(set(truth) & got) / 10 for truth, got in zip(exact, found)]))
            results.append({"ef_search": ef, "recall_at_10": round(recall, 4), **timings(spent)})
    return results


def real_embeddings_recall(server, sentences: list[str], sentence_vectors: np.ndarray,
                           question_vectors: np.ndarray) -> list[dict]:
    """HNSW over the pool's real sentence embeddings alone, one sentence a passage, in a database of its own.

    Synthetic passages repeat each pool sentence in many passages (at 300,000, about 75),
    so their vectors come in tight clusters whose order within is set by the added noise;
    an approximate index cannot tell those apart and should not need to.
    """
    import psycopg

    from bench.synthetic import Synthetic
    from index.schema import Chunk

    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE real_embeddings")
    url = server.get_uri().replace("/postgres?", "/real_embeddings?")
    chunks = [Chunk(i, f"pool/{i // 32}", s, 0, len(s), ((0, len(s)),)) for i, s in enumerate(sentences)]
    docs = {c.doc_id: {"title": c.doc_id, "date": None, "source": None, "content_hash": c.doc_id} for c in chunks}
    write_postgres(url, Settings(), Synthetic(chunks, sentence_vectors, sentence_vectors.astype(np.float16), docs))
    return hnsw_recall(url, sentence_vectors, question_vectors)


def serve(settings_json: str, rounds: int) -> dict:
    """In a fresh process: open the store as the bot does, time warm questions and concurrent clients."""
    from index.pipeline import Pipeline

    settings = Settings(**json.loads(settings_json))
    pipeline = Pipeline.open(settings)
    asked = eval_questions()
    for question in asked:  # the first pass warms caches (pages, the database's buffers)
        pipeline.ask(question)
    spent = []
    for _ in range(rounds):
        for question in asked:
            start = time.perf_counter()
            pipeline.ask(question)
            spent.append(time.perf_counter() - start)
    rates = {}
    for clients in CLIENTS:
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(pipeline.ask, asked * 2))
        rates[clients] = round(2 * len(asked) / (time.perf_counter() - start), 1)
    return {"ask": timings(spent), "qps": rates}


def served(settings: dict, rounds: int) -> dict:
    result = subprocess.run([sys.executable, __file__, "--serve", json.dumps(settings), "--rounds", str(rounds)],
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout.splitlines()[-1])


def measure(size: int, sentences, sentence_vectors, question_vectors, scratch: Path, url: str, rounds: int,
            embedder, ef_construction: int | None) -> dict:
    index_dir = scratch / f"index-{size}"
    settings = Settings(index_dir=index_dir)
    ensure_onnx_encoder(index_dir, BUNDLED_MODEL_ID, lambda: embedder)
    data = synthetic_index(size, sentences, sentence_vectors)
    start = time.perf_counter()
    write_synthetic_index(index_dir, settings, data)
    file_seconds = time.perf_counter() - start
    pg_seconds = write_postgres(url, settings, data, ef_construction)
    recall = hnsw_recall(url, data.vectors, question_vectors)
    del data
    folder = served({"index_dir": str(index_dir)}, rounds)
    database = served({"index_dir": str(index_dir), "database_url": url}, rounds)
    return {"size": size, "write_s": {"files": round(file_seconds, 1), "postgres": round(pg_seconds, 1)},
            "hnsw": recall, "files": folder, "postgres": database}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--rounds", type=int, default=2, help="warm passes over the eval questions, after the first")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--ef-construction", type=int, help="build the HNSW index with this instead of citebot's "
                        "setting, to compare (pgvector's default is 64)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(args.serve, args.rounds)))
        return
    import pgserver

    embedder = Embedder()
    sentences, sentence_vectors, question_vectors = embedded_pool(embedder, POOL)
    results, real = [], []
    with tempfile.TemporaryDirectory() as scratch:
        server = pgserver.get_server(Path(scratch) / "pgdata", cleanup_mode="stop")
        try:
            real = real_embeddings_recall(server, sentences, sentence_vectors, question_vectors)
            print(f"HNSW over {len(sentences):,} real sentence embeddings: " + ", ".join(
                f"ef_search {r['ef_search']} recall@10 {r['recall_at_10']:.3f} ({r['p50']:.2f} ms)" for r in real),
                flush=True)
            for size in (int(s) for s in args.sizes.split(",")):
                result = measure(size, sentences, sentence_vectors, question_vectors, Path(scratch),
                                 server.get_uri(), args.rounds, embedder, args.ef_construction)
                results.append(result)
                print_result(result)
        finally:
            server.cleanup()
    if args.json:
        args.json.write_text(json.dumps({"real_embeddings": real, "sizes": results}, indent=1))


def print_result(result: dict) -> None:
    size, files, database = result["size"], result["files"], result["postgres"]
    print(f"{size:,} passages; written in {result['write_s']['files']} s as a folder, "
          f"{result['write_s']['postgres']} s into PostgreSQL (rows and HNSW index)")
    for store, figures in (("folder", files), ("postgres", database)):
        qps = ", ".join(f"{c} client{'s' if int(c) > 1 else ''} {q}/s" for c, q in figures["qps"].items())
        print(f"  {store:9s} ask p50 {figures['ask']['p50']:6.1f} ms  p95 {figures['ask']['p95']:6.1f} ms | {qps}")
    for row in result["hnsw"]:
        print(f"  HNSW ef_search {row['ef_search']:4d}: recall@10 {row['recall_at_10']:.3f} against exact, "
              f"search p50 {row['p50']:.2f} ms  p95 {row['p95']:.2f} ms")
    print(f"  PostgreSQL p95 against the folder's: {database['ask']['p95'] / files['ask']['p95']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
