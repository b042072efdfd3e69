"""Shared set-up for the benchmark scripts: the real pipeline over the project's corpus."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from index.ingest.build import update_index
from index.embed.encoders import open_encoder
from index.pipeline import Pipeline
from index.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def open_pipeline(**overrides: Any) -> Pipeline:
    """A pipeline over corpus/, built in a scratch folder unless an up-to-date index exists there."""
    index_dir = Path(tempfile.gettempdir()) / "citebot-bench-index"
    settings = Settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, **overrides)
    embedder = open_encoder(settings, export_if_missing=True)
    update_index(settings, lambda: embedder)
    return Pipeline.open(settings, embedder)
