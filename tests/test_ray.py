"""`citebot index --ray`: passages embedded on a real local Ray cluster (2 CPUs) through Ray Data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CITEBOT = str(Path(sys.executable).with_name("citebot"))
DOCS = ["2019-03-ep-motion-for-resolution-b8-0205-2019.txt", "2022-08-24-ep-press-release-droi-visit-kazakhstan.txt"]


def _index(corpus: Path, index_dir: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([CITEBOT, "index", "--corpus", str(corpus), "--index-dir", str(index_dir), "--json", *extra],
                          capture_output=True, text=True, env=env, timeout=600)


def _vectors(index_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    import faiss

    version = index_dir / (index_dir / "CURRENT").read_text().strip()
    chunks = [json.loads(line) for line in (version / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    vectors = faiss.read_index(str(version / "vectors.faiss"))
    passages = np.stack([vectors.reconstruct(c["chunk_id"]) for c in chunks])
    return [c["text"] for c in chunks], passages, np.load(version / "units.npy")


def test_passages_embedded_on_ray_are_the_vectors_of_the_local_path(tmp_path, corpus_dir, subprocess_env):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in DOCS:
        shutil.copy(corpus_dir / name, corpus / name)
    local = _index(corpus, tmp_path / "local", subprocess_env)
    on_ray = _index(corpus, tmp_path / "ray", subprocess_env, "--ray")
    assert local.returncode == 0 and on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert json.loads(on_ray.stdout)["chunks_embedded"] == json.loads(local.stdout)["chunks_embedded"] > 0
    texts, passages, units = _vectors(tmp_path / "local")
    ray_texts, ray_passages, ray_units = _vectors(tmp_path / "ray")
    assert ray_texts == texts
    assert np.array_equal(ray_passages, passages) and np.array_equal(ray_units, units)


def test_a_cluster_out_of_reach_is_one_line_and_nothing_changes(tmp_path, corpus_dir, subprocess_env):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(corpus_dir / DOCS[0], corpus / DOCS[0])
    done = _index(corpus, tmp_path / "index", subprocess_env, "--ray", "auto")  # no cluster was started
    assert done.returncode == 1
    assert done.stderr.startswith("citebot: error: cannot reach the Ray cluster at auto (ConnectionError")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "index" / "CURRENT").exists()


def test_ray_writes_into_postgresql_the_vectors_of_the_local_path(tmp_path, corpus_dir, subprocess_env, database_url):
    from index.store.connections import connect

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(corpus_dir / DOCS[1], corpus / DOCS[1])
    local = _index(corpus, tmp_path / "local", subprocess_env)
    on_ray = _index(corpus, tmp_path / "unused", {**subprocess_env, "CITEBOT_DATABASE_URL": database_url}, "--ray")
    assert local.returncode == 0 and on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert json.loads(on_ray.stdout)["vector_index"]["kind"] == "hnsw"
    texts, passages, units = _vectors(tmp_path / "local")
    with connect(database_url) as connection:
        rows = connection.execute("SELECT text, embedding, units FROM citebot_passages ORDER BY chunk_id").fetchall()
    assert [row[0] for row in rows] == texts
    assert np.array_equal(np.stack([row[1] for row in rows]), passages)
    assert np.array_equal(np.frombuffer(b"".join(row[2] for row in rows), np.float16).reshape(units.shape), units)


def test_what_the_cluster_reports_goes_to_stderr_and_stdout_stays_the_reports(tmp_path, corpus_dir, capfd):
    """Ray's driver prints its cluster's error messages to stdout, from a thread: once one came after the report
    (a worker lost to memory pressure) and `citebot index --ray --json | jq` would have read two documents."""
    import time

    import ray
    from ray._private.utils import publish_error_to_driver

    from bot.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(corpus_dir / DOCS[0], corpus / DOCS[0])
    try:
        assert main(["index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index"), "--json", "--ray"]) == 0
        publish_error_to_driver("worker_died", "A worker died or was killed (a test's message)",
                                ray._private.worker.global_worker.gcs_client)
        out, err, deadline = "", "", time.monotonic() + 20
        while "a test's message" not in err and time.monotonic() < deadline:
            time.sleep(0.2)
            captured = capfd.readouterr()
            out, err = out + captured.out, err + captured.err
    finally:
        ray.shutdown()
    assert "a test's message" in err
    assert json.loads(out)["chunks_embedded"] > 0  # one JSON document, and nothing else


def _batch(rows, passages, units, worker="Ray worker abc on node-1"):
    return {"rows": rows, "passages": np.asarray(passages, np.float32).tobytes(),
            "units": np.asarray(units, np.float32).reshape(-1, 2).tobytes(), "worker": worker}


def test_a_batch_with_vectors_missing_or_not_finite_is_refused_naming_its_worker():
    from index.embed.ray_embed import RayUnavailable, assemble

    texts, spans = ["a", "b", "c"], [[(0, 1)], [(0, 1), (1, 2)], []]
    good = [_batch([0, 2], [[1, 0], [0, 1]], [[1, 0]]), _batch([1], [[0.6, 0.8]], [[1, 0], [0, 1]])]
    passages, units = assemble(2, texts, spans, good)
    assert passages.tolist() == [[1, 0], [0.6000000238418579, 0.800000011920929], [0, 1]] and len(units) == 3
    broken = {
        "no vectors for 1 of 3": [good[0]],  # a batch that never came back
        "returned 1 passage and 1 sentence vectors for 2 passages": [_batch([0, 2], [[1, 0]], [[1, 0]]), good[1]],
        "returned 2 passage and 1 sentence vectors": [good[0], _batch([1], [[0.6, 0.8], [1, 0]], [[1, 0]])],
        "not finite": [good[0], _batch([1], [[np.nan, 0.8]], [[1, 0], [0, 1]])],
    }
    for message, encoded in broken.items():
        with pytest.raises(RayUnavailable, match=message) as refused:
            assemble(2, texts, spans, encoded)
        assert "nothing was written" in str(refused.value)
    with pytest.raises(RayUnavailable, match="Ray worker abc on node-1 returned vectors of another size"):
        assemble(2, texts, spans, [good[0], {**good[1], "passages": b"\0" * 12}])
