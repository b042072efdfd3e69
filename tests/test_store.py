"""The index refuses to be read with other settings than it was built with, and names the fix."""

from __future__ import annotations

import json

import pytest

from index.ingest.build import expected_meta
from index.pipeline import Pipeline
from index.settings import Settings
from index.store.files import IndexMismatch, IndexMissing, IndexStore, current_version


def test_meta_json_records_what_the_vectors_mean(built_index):
    meta = json.loads((current_version(built_index) / "meta.json").read_text())
    assert meta["model"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert meta["dim"] == 384
    assert meta["chunking"] == Settings().chunking_signature()
    assert meta["documents"] == 5 and meta["chunks"] > 20
    assert {"faiss-cpu", "sentence-transformers", "torch"} <= set(meta["libraries"])
    assert len(meta["corpus_fingerprint"]) == 64


def test_index_built_with_other_chunking_asks_for_a_rebuild(index_copy, corpus_dir):
    settings = Settings(corpus_dir=corpus_dir, index_dir=index_copy, chunk_tokens=120)
    with pytest.raises(IndexMismatch, match="chunking.*rebuild it with `citebot index`"):
        IndexStore.load(index_copy, expected_meta(settings))


def test_index_built_with_another_model_asks_for_a_rebuild(index_copy, corpus_dir):
    meta_path = current_version(index_copy) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "model": "some/other-model"}))
    settings = Settings(corpus_dir=corpus_dir, index_dir=index_copy)
    with pytest.raises(IndexMismatch, match="model 'some/other-model'"):
        Pipeline.open(settings)


def test_missing_index_is_reported_before_the_model_loads(tmp_path, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded although there is no index")

    monkeypatch.setattr("index.pipeline.open_encoder", no_model)
    with pytest.raises(IndexMissing, match="citebot index"):
        Pipeline.open(Settings(index_dir=tmp_path / "nothing-here"))


def test_a_half_written_version_is_never_served(index_copy, corpus_dir):
    (index_copy / ".v99999999-unfinished.partial").mkdir()
    published = current_version(index_copy)
    assert published is not None and not published.name.endswith(".partial")
    store = IndexStore.load(index_copy, expected_meta(Settings(corpus_dir=corpus_dir)))
    assert store.folder == published


def test_passages_are_read_on_demand_and_match_the_file(built_index, corpus_dir):
    store = IndexStore.load(built_index, expected_meta(Settings(corpus_dir=corpus_dir, index_dir=built_index)))
    records = [json.loads(line) for line in (store.folder / "chunks.jsonl").read_text().splitlines()]
    assert len(store.chunks) == len(records) == store.meta["chunks"]
    assert [store.chunks[r["chunk_id"]].text for r in records] == [r["text"] for r in records]
    assert max(r["chunk_id"] for r in records) + 1 not in store.chunks


def test_a_version_written_before_the_offsets_file_still_serves(index_copy, corpus_dir, embedder, pipeline):
    version = current_version(index_copy)
    (version / "chunks.idx.npy").unlink()
    meta = json.loads((version / "meta.json").read_text())
    meta.pop("files")  # versions that old recorded no file sizes either
    (version / "meta.json").write_text(json.dumps(meta))
    older = Pipeline.open(Settings(corpus_dir=corpus_dir, index_dir=index_copy), embedder)
    for question in ("When was the DVK movement banned?", "Who is Max Bokayev?"):
        assert older.ask(question) == pipeline.ask(question)  # same passages, same sentence vectors
