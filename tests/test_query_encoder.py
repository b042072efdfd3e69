"""The ONNX export of the model: torch's vectors and answers, for passages and questions; no torch in a cold ask."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from bot.cli import main
from conftest import ROOT
from index.embed.embedder import BUNDLED_MODEL_ID, Embedder
from index.embed.onnx_encoder import OnnxEncoder, encoder_folder, ensure_onnx_encoder
from index.embed.encoders import open_encoder
from index.pipeline import Pipeline
from index.ingest.build import update_index
from index.store.files import current_version
from index.settings import Settings

QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "eval/qa.jsonl").read_text().splitlines() if line]


@pytest.fixture
def exported(index_copy, embedder):
    assert ensure_onnx_encoder(index_copy, BUNDLED_MODEL_ID, lambda: embedder)
    return index_copy


def test_onnx_gives_torch_s_vectors_and_answers(exported, embedder, corpus_dir, pipeline):
    settings = Settings(corpus_dir=corpus_dir, index_dir=exported)
    onnx = open_encoder(settings)
    assert isinstance(onnx, OnnxEncoder)
    cosines = np.sum(onnx.encode_passages(QUESTIONS) * embedder.encode_passages(QUESTIONS), axis=1)
    assert cosines.min() > 0.9999
    via_onnx = Pipeline.open(settings)
    assert [via_onnx.ask(q) == pipeline.ask(q) for q in QUESTIONS[:20]].count(False) == 0


def test_an_export_of_another_model_or_none_falls_back_to_torch(exported, corpus_dir, embedder):
    info_path = encoder_folder(exported) / "encoder.json"
    info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "model_id": "another/model"}))
    assert isinstance(open_encoder(Settings(corpus_dir=corpus_dir, index_dir=exported)), Embedder)
    assert isinstance(open_encoder(Settings(index_dir=exported, onnx=False)), Embedder)
    assert ensure_onnx_encoder(exported, BUNDLED_MODEL_ID, lambda: embedder)  # `citebot index` exports it anew
    assert json.loads(info_path.read_text())["model_id"] == BUNDLED_MODEL_ID


def test_index_command_exports_once_and_a_cold_ask_never_imports_torch(index_copy, subprocess_env):
    assert main(["index", "--index-dir", str(index_copy), "--corpus", str(ROOT / "corpus")]) == 0
    assert (encoder_folder(index_copy) / "model.onnx").is_file()
    script = ("import sys; from bot.cli import main; "
              f"code = main(['ask', '--index-dir', {str(index_copy)!r}, 'When was the DVK movement banned?']); "
              "print('torch imported' if 'torch' in sys.modules else 'no torch'); sys.exit(code)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=subprocess_env,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "13 March 2018" in run.stdout and run.stdout.strip().endswith("no torch")


def test_an_index_built_through_onnx_holds_torch_s_vectors(tmp_path, corpus_dir, built_index, pipeline):
    settings = Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "index")
    encoder = open_encoder(settings, export_if_missing=True)
    assert isinstance(encoder, OnnxEncoder)
    update_index(settings, lambda: encoder)
    mine, torch_built = current_version(settings.index_dir), current_version(built_index)
    assert (mine / "chunks.jsonl").read_text() == (torch_built / "chunks.jsonl").read_text()  # same token counts
    units, torch_units = (np.load(folder / "units.npy").astype(np.float32) for folder in (mine, torch_built))
    assert units.shape == torch_units.shape and np.sum(units * torch_units, axis=1).min() > 0.999  # float16 on disk
    onnx_pipeline = Pipeline.open(settings)
    assert [onnx_pipeline.ask(q) == pipeline.ask(q) for q in QUESTIONS[:20]].count(False) == 0


def test_a_damaged_export_falls_back_to_torch_and_is_made_again(exported, corpus_dir, embedder, caplog):
    model_file = encoder_folder(exported) / "model.onnx"
    model_file.write_bytes(model_file.read_bytes()[:1000])  # a disk that filled up mid-write
    settings = Settings(corpus_dir=corpus_dir, index_dir=exported)
    assert isinstance(open_encoder(settings), Embedder)
    assert Pipeline.open(settings).ask("When was the DVK movement banned?").found  # on torch
    assert ensure_onnx_encoder(exported, BUNDLED_MODEL_ID, lambda: embedder)
    assert isinstance(open_encoder(settings), OnnxEncoder)


def test_a_large_rebuild_embeds_with_the_faster_runtime_and_says_so(tmp_path, corpus_dir, built_index, pipeline):
    """Past CITEBOT_RUNTIME_CHECK_PASSAGES (here every rebuild) both runtimes are timed and the faster embeds."""
    settings = Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "index", runtime_check_passages=1)
    encoder = open_encoder(settings, export_if_missing=True)
    report = update_index(settings, lambda: encoder)
    said = re.fullmatch(r"Embedded with (torch|ONNX Runtime): ([\d.]+) passages/s on a sample of \d+, "
                        r"against ([\d.]+) for (ONNX Runtime|torch)\.", report.runtime or "")
    assert said and said[1] != said[4] and float(said[2]) >= float(said[3]), report.runtime
    assert report.runtime in report.summary()
    units, torch_units = (np.load(current_version(folder) / "units.npy").astype(np.float32)
                          for folder in (settings.index_dir, built_index))
    assert units.shape == torch_units.shape and np.sum(units * torch_units, axis=1).min() > 0.999
    rebuilt = Pipeline.open(settings)
    assert [rebuilt.ask(q) == pipeline.ask(q) for q in QUESTIONS[:20]].count(False) == 0
    small = update_index(Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "small"), lambda: encoder)
    assert small.runtime is None and "Embedded with" not in small.summary()  # the bundled corpus: under 5,000
