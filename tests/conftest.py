"""Shared fixtures: the real embedding model, a real index built from the project's corpus."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))

import netguard  # noqa: E402

netguard.install()

# The code under test must set these itself; clear any the caller's shell set.
for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.pop(name, None)
for name in [n for n in os.environ if n.startswith("CITEBOT_")] + ["TELEGRAM_BOT_TOKEN"]:
    os.environ.pop(name, None)
os.environ["PTB_TIMEDELTA"] = "1"  # as `citebot serve` sets it: python-telegram-bot's coming behaviour
os.environ["NO_PROXY"] = "127.0.0.1,localhost"  # httpx honours *_PROXY; the fake Bot API is on loopback

# The property tests (test_fuzz.py): `make test` runs the same 1,000 inputs each time, in under a minute;
# `make fuzz` (--hypothesis-profile fuzz) 25,000 fresh random ones each, about 25 minutes. Registered here, before
# pytest reads --hypothesis-profile.
_QUIET = {"deadline": None, "database": None,
          "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]}
hypothesis_settings.register_profile("ci", max_examples=1000, derandomize=True, **_QUIET)
hypothesis_settings.register_profile("fuzz", max_examples=25_000, **_QUIET)
hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def embedder():
    from index.embed.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return ROOT / "corpus"


@pytest.fixture
def corpus(tmp_path, corpus_dir):
    """A small corpus of two of the project's documents (test_rebuild.MOTION and ANSWER)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("2019-03-ep-motion-for-resolution-b8-0205-2019.txt", "2018-02-21-ep-answer-e-007094-2017-dzhakishev-tokmadi.txt"):
        shutil.copy(corpus_dir / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A private PostgreSQL 16 with pgvector (pgserver), for the session."""
    import pgserver

    running = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    yield running
    running.cleanup()


@pytest.fixture
def database_url(pg_server) -> str:
    """A fresh, empty database on the session's PostgreSQL; its URL."""
    import psycopg

    name = f"t_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return pg_server.get_uri().replace("/postgres?", f"/{name}?")


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, embedder, corpus_dir) -> Path:
    """An index of the project's corpus, built once for the session with the real model."""
    from index.ingest.build import update_index
    from index.settings import Settings

    index_dir = tmp_path_factory.mktemp("index")
    update_index(Settings(corpus_dir=corpus_dir, index_dir=index_dir), lambda: embedder)
    return index_dir


@pytest.fixture(scope="session")
def pipeline(built_index, embedder, corpus_dir):
    from index.pipeline import Pipeline
    from index.settings import Settings

    return Pipeline.open(Settings(corpus_dir=corpus_dir, index_dir=built_index), embedder)


@pytest.fixture
def index_copy(built_index, tmp_path) -> Path:
    """A private copy of the session index, for tests that change or break it."""
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    return target


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for `citebot` subprocesses: the network guard on, no inherited settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS / "guard_site"), str(TESTS)])
    return env


@pytest.fixture
def fake_llm():
    """The fake OpenAI-compatible endpoint on 127.0.0.1 (tests/fake_openai.py): the stand-in for an LLM."""
    from fake_openai import FakeOpenAI

    fake = FakeOpenAI()
    yield fake
    fake.stop()


@pytest.fixture
def llm_settings(fake_llm, built_index, corpus_dir):
    """Settings that answer with the fake endpoint over the session index."""
    from index.settings import Settings

    return Settings(corpus_dir=corpus_dir, index_dir=built_index, llm_provider="openai", llm_model="fake-model",
                    llm_base_url=fake_llm.base_url)


@pytest.fixture
def llm_pipeline(llm_settings, embedder):
    from index.pipeline import Pipeline

    return Pipeline.open(llm_settings, embedder)
