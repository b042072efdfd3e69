"""Exact search for small corpora, an IVF index for large ones: the switch, the recall check, the setting."""

from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from index.ingest.build import update_index
from index.pipeline import Pipeline
from index.settings import Settings
from index.store.files import current_version
from index.store.vectors import APPROXIMATE, EXACT, all_vectors, build_ivf, kind_of, recall_at
from conftest import ROOT

QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "eval/qa.jsonl").read_text().splitlines() if line]


def no_model():
    raise AssertionError("the model was loaded although nothing needed embedding")


def published(index_dir):
    folder = current_version(index_dir)
    return faiss.read_index(str(folder / "vectors.faiss")), json.loads((folder / "meta.json").read_text())


@pytest.fixture(scope="module")
def real_vectors(built_index):
    """6,000 passage-like vectors: runs of 3-6 of the corpus's real sentence vectors, averaged, plus a little noise."""
    units = np.load(current_version(built_index) / "units.npy").astype(np.float32)
    rng = np.random.default_rng(3)
    starts, lengths = rng.integers(0, len(units) - 6, 6000), rng.integers(3, 7, 6000)
    vectors = np.stack([units[s : s + n].mean(axis=0) for s, n in zip(starts, lengths)])
    vectors += rng.normal(0, 0.02, vectors.shape).astype(np.float32)
    return units, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_approximate_index_reaches_the_recall_target_for_real_questions(real_vectors, embedder):
    units, vectors = real_vectors
    ids = np.arange(len(vectors), dtype=np.int64) * 7 + 3  # chunk ids need not be row numbers
    index, info = build_ivf(ids, vectors, 0.95, units)
    assert info.kind == APPROXIMATE and 1 < info.nprobe < info.nlist  # neither one list nor all of them
    assert info.recall_at_10 >= 0.95

    questions = embedder.encode_passages(QUESTIONS)  # real questions, never seen by the tuning
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    truth = ids[exact.search(questions, 10)[1]]
    # Tuned on the corpus's sentences, checked on questions it never saw: within a point of the target (0.948
    # once the chunking changed, 0.95 before), where a single list probed gives far less.
    assert recall_at(index, questions, truth) >= 0.94
    index.nprobe = 1
    assert recall_at(index, questions, truth) < 0.94  # so the check above can fail


def test_a_higher_recall_target_probes_more_lists(real_vectors):
    units, vectors = real_vectors
    ids = np.arange(len(vectors), dtype=np.int64)
    _, modest = build_ivf(ids, vectors, 0.8, units)
    _, strict = build_ivf(ids, vectors, 0.99, units)
    assert modest.nprobe < strict.nprobe and strict.recall_at_10 >= 0.99 > modest.recall_at_10 >= 0.8


def test_auto_switches_to_approximate_above_the_threshold_without_re_embedding(index_copy, corpus_dir, embedder):
    exact_pipeline = Pipeline.open(Settings(corpus_dir=corpus_dir, index_dir=index_copy), embedder)
    expected = [exact_pipeline.ask(q).citations[0].doc_id for q in QUESTIONS[:10]]
    assert kind_of(published(index_copy)[0]) == EXACT

    small_threshold = Settings(corpus_dir=corpus_dir, index_dir=index_copy, exact_search_max=10)
    report = update_index(small_threshold, no_model)
    assert report.chunks_embedded == 0 and report.converted.startswith("now approximate")
    index, meta = published(index_copy)
    assert kind_of(index) == APPROXIMATE and meta["vector_index"]["kind"] == APPROXIMATE
    assert faiss.downcast_index(index).nprobe == meta["vector_index"]["nprobe"]  # kept on disk
    assert update_index(small_threshold, no_model).up_to_date  # and not converted again

    pipeline = Pipeline.open(small_threshold, embedder)
    assert [pipeline.ask(q).citations[0].doc_id for q in QUESTIONS[:10]] == expected


def test_an_index_near_the_threshold_is_not_converted_back_and_forth(index_copy, corpus_dir):
    def build(exact_max: int):
        return update_index(Settings(corpus_dir=corpus_dir, index_dir=index_copy, exact_search_max=exact_max), no_model)

    passages = json.loads((current_version(index_copy) / "meta.json").read_text())["chunks"]
    assert build(passages - 1).converted.startswith("now approximate")
    assert build(passages + 1).up_to_date  # back under the threshold, but not by half: stays approximate
    assert kind_of(published(index_copy)[0]) == APPROXIMATE
    assert build(passages * 2).converted == "now exact"


def test_the_setting_forces_either_kind(index_copy, corpus_dir):
    forced = Settings(corpus_dir=corpus_dir, index_dir=index_copy, vector_index="approximate")
    assert "now approximate" in update_index(forced, no_model).summary()
    assert kind_of(published(index_copy)[0]) == APPROXIMATE

    back = Settings(corpus_dir=corpus_dir, index_dir=index_copy, vector_index="exact", exact_search_max=0)
    assert update_index(back, no_model).converted == "now exact"
    index, meta = published(index_copy)
    assert kind_of(index) == EXACT and index.ntotal == meta["chunks"]


def test_an_approximate_index_takes_added_and_removed_documents(tmp_path, corpus_dir, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = sorted(p.name for p in corpus_dir.iterdir())
    for name in names[:3]:
        (corpus / name).write_bytes((corpus_dir / name).read_bytes())
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", vector_index="approximate")
    update_index(settings, lambda: embedder)
    (corpus / names[3]).write_bytes((corpus_dir / names[3]).read_bytes())
    (corpus / names[0]).unlink()
    report = update_index(settings, lambda: embedder)
    assert report.added == [names[3]] and report.removed == [names[0]]

    index, meta = published(settings.index_dir)
    docs = json.loads((current_version(settings.index_dir) / "docs.json").read_text())
    assert kind_of(index) == APPROXIMATE
    assert sorted(all_vectors(index)[0]) == sorted(i for doc in docs.values() for i in doc["chunk_ids"])
    pipeline = Pipeline.open(settings, embedder)
    assert all(c.doc_id != names[0] for q in QUESTIONS[:10] for c in pipeline.ask(q).citations)
