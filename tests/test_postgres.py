"""The index in PostgreSQL with pgvector: a real private server (pgserver), the real model, the real bot."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pgserver
import psycopg
import pytest

import index.store.postgres_write
from bot_harness import running_bot
from index.ingest.build import update_index
from index.pipeline import Pipeline
from index.settings import Settings
from index.store.files import BuildBusy, IndexMissing, IndexWriteError
from index.store.connections import StoreUnavailable
from index.store.postgres_write import LOCK_KEY
from test_rebuild import ANSWER, MOTION, ONLY_IN_PRESS, PRESS, no_model

ONLY_IN_ANSWER = "Which EU official answered the parliamentary question on Dzhakishev and Tokmadi?"  # Mogherini


@pytest.fixture
def settings(database_url, corpus, tmp_path):
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "unused-index", database_url=database_url)


def rows(settings: Settings, query: str, *args) -> list[tuple]:
    with psycopg.connect(settings.database_url.get_secret_value()) as connection:
        return connection.execute(query, args).fetchall()


def assert_consistent(settings: Settings) -> None:
    """Documents, passages, postings and term counts agree: no half-written rebuild is visible."""
    assert rows(settings, "SELECT d.doc_id FROM citebot_documents d LEFT JOIN citebot_passages p USING (doc_id) "
                          "GROUP BY d.doc_id, d.passages HAVING count(p.chunk_id) <> d.passages") == []
    assert rows(settings, "SELECT count(*) FROM citebot_passages p LEFT JOIN citebot_documents d USING (doc_id) "
                          "WHERE d.doc_id IS NULL") == [(0,)]
    assert rows(settings, "SELECT count(*) FROM citebot_postings o LEFT JOIN citebot_passages p USING (chunk_id) "
                          "WHERE p.chunk_id IS NULL") == [(0,)]
    assert rows(settings, "SELECT count(*) FROM citebot_terms t FULL JOIN (SELECT term, count(*) AS df FROM "
                          "citebot_postings GROUP BY term) o USING (term) WHERE t.df IS DISTINCT FROM o.df") == [(0,)]
    (meta,), = rows(settings, "SELECT meta FROM citebot_meta")
    assert rows(settings, "SELECT count(*) FROM citebot_passages") == [(meta["chunks"],)]


def test_the_database_answers_exactly_as_the_index_folder_does(database_url, pipeline, embedder, corpus_dir, tmp_path):
    settings = Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "unused", database_url=database_url)
    report = update_index(settings, lambda: embedder)
    assert report.documents == len(pipeline.store.docs) and report.chunks == pipeline.store.meta["chunks"]
    assert report.vector_index["kind"] == "hnsw"
    in_database = Pipeline.open(settings, embedder)
    questions = [json.loads(line)["question"] for line in (Path("eval") / "qa.jsonl").read_text().splitlines()[:60]]
    for question in questions:
        (expected, expected_hits), (answer, hits) = pipeline.ask_traced(question), in_database.ask_traced(question)
        assert [h.chunk.chunk_id for h in hits] == [h.chunk.chunk_id for h in expected_hits], question
        assert (answer.answer, answer.citations, answer.confidence) == \
            (expected.answer, expected.citations, pytest.approx(expected.confidence, abs=1e-6)), question
    assert_consistent(settings)


def test_adding_changing_and_removing_documents_embeds_only_what_changed(settings, embedder, corpus, corpus_dir):
    first = update_index(settings, lambda: embedder)
    assert sorted(first.added) == [ANSWER, MOTION]
    pipeline = Pipeline.open(settings, embedder)
    assert not pipeline.ask(ONLY_IN_PRESS).found and pipeline.ask(ONLY_IN_ANSWER).found

    shutil.copy(corpus_dir / PRESS, corpus / PRESS)
    added = update_index(settings, lambda: embedder)
    assert (added.added, added.changed, added.removed, added.unchanged) == ([PRESS], [], [], 2)
    assert added.chunks_embedded == added.chunks - first.chunks
    answer = pipeline.ask(ONLY_IN_PRESS)  # the same pipeline, no restart
    assert answer.found and "Kuspan" in answer.answer and answer.citations[0].doc_id == PRESS

    (corpus / MOTION).write_text((corpus / MOTION).read_text() + "\n\nThe quokka sanctuary opened in Aktobe.\n")
    changed = update_index(settings, lambda: embedder)
    assert changed.changed == [MOTION] and changed.unchanged == 2
    assert pipeline.ask("Where did the quokka sanctuary open?").citations[0].doc_id == MOTION

    (corpus / ANSWER).unlink()
    removed = update_index(settings, lambda: embedder)
    assert removed.removed == [ANSWER] and removed.chunks_embedded == 0
    assert not pipeline.ask(ONLY_IN_ANSWER).found
    assert not pipeline.store.lexical.knows("mogherini")  # its term statistics went with it
    assert update_index(settings, no_model).up_to_date
    assert_consistent(settings)


def test_a_rebuild_that_fails_midway_changes_nothing(settings, embedder, corpus, corpus_dir, monkeypatch):
    update_index(settings, lambda: embedder)
    pipeline = Pipeline.open(settings, embedder)
    before = rows(settings, "SELECT version, meta FROM citebot_meta")

    def fail(*_):
        raise psycopg.errors.DiskFull("could not extend file: No space left on device")

    monkeypatch.setattr(index.store.postgres_write, "_count_terms", fail)  # after passages and postings are written
    shutil.copy(corpus_dir / PRESS, corpus / PRESS)
    (corpus / ANSWER).unlink()
    with pytest.raises(IndexWriteError, match="No space left on device.*the previous index keeps serving"):
        update_index(settings, lambda: embedder)
    assert rows(settings, "SELECT version, meta FROM citebot_meta") == before
    assert pipeline.ask(ONLY_IN_ANSWER).found and not pipeline.ask(ONLY_IN_PRESS).found
    assert_consistent(settings)

    monkeypatch.undo()
    report = update_index(settings, lambda: embedder)
    assert (report.added, report.removed) == ([PRESS], [ANSWER])
    assert pipeline.ask(ONLY_IN_PRESS).found


def test_killing_citebot_index_while_it_publishes_leaves_the_previous_index_serving(
        settings, embedder, corpus, corpus_dir, subprocess_env, tmp_path):
    update_index(settings, lambda: embedder)
    before = rows(settings, "SELECT version FROM citebot_meta")
    shutil.copy(corpus_dir / PRESS, corpus / PRESS)
    long_document = "\n\n".join(f"Paragraph {n} on the oblast's court hearings, number {n}, in the case file."
                                for n in range(600))
    (corpus / "hearings.txt").write_text(long_document)  # a publish long enough to be caught in the act
    env = {**subprocess_env, "CITEBOT_CORPUS_DIR": str(corpus), "CITEBOT_INDEX_DIR": str(tmp_path / "unused"),
           "CITEBOT_DATABASE_URL": settings.database_url.get_secret_value()}
    build = subprocess.Popen([sys.executable, "-m", "bot.cli", "index"], env=env, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    caught = _wait_for_open_write(settings, build)
    os.killpg(build.pid, signal.SIGKILL)
    build.wait()
    assert caught, "citebot index finished before it was seen writing; the test could not kill it mid-publish"
    _wait_until_gone(settings)
    assert rows(settings, "SELECT version FROM citebot_meta") == before
    assert sorted(r[0] for r in rows(settings, "SELECT doc_id FROM citebot_documents")) == [ANSWER, MOTION]
    assert_consistent(settings)
    assert not Pipeline.open(settings, embedder).ask(ONLY_IN_PRESS).found
    assert "hearings.txt" in update_index(settings, lambda: embedder).added  # the lock went with the process


def _wait_for_open_write(settings: Settings, build: subprocess.Popen) -> bool:
    """True once the rebuild's transaction has written something, before it commits."""
    with psycopg.connect(settings.database_url.get_secret_value(), autocommit=True) as watcher:
        while build.poll() is None:
            if watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'citebot index' "
                               "AND backend_xid IS NOT NULL").fetchone()[0]:
                return True
            time.sleep(0.002)
    return False


def _wait_until_gone(settings: Settings) -> None:
    for _ in range(500):
        if not rows(settings, "SELECT pid FROM pg_stat_activity WHERE application_name = 'citebot index'"):
            return
        time.sleep(0.01)
    raise AssertionError("the killed rebuild's session is still open")


def test_a_second_rebuild_is_refused_while_another_machine_rebuilds(settings, embedder, subprocess_env, tmp_path):
    update_index(settings, lambda: embedder)
    url = settings.database_url.get_secret_value()
    with psycopg.connect(url, autocommit=True) as other_machine:
        other_machine.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        with pytest.raises(BuildBusy, match="another rebuild"):
            update_index(settings, no_model)
        env = {**subprocess_env, "CITEBOT_CORPUS_DIR": str(settings.corpus_dir), "CITEBOT_DATABASE_URL": url,
               "CITEBOT_INDEX_DIR": str(tmp_path / "unused")}
        cli = subprocess.run([sys.executable, "-m", "bot.cli", "index"], env=env, capture_output=True, text=True)
        assert cli.returncode == 1 and "another rebuild of the index" in cli.stderr
        assert "Traceback" not in cli.stderr and len(cli.stderr.strip().splitlines()) == 1
    assert update_index(settings, no_model).up_to_date


def test_questions_are_searched_on_the_read_replica_when_one_is_set(settings, embedder):
    update_index(settings, lambda: embedder)
    replica = settings.database_url.get_secret_value()  # pgserver makes no replica: the same database stands in
    searched_there = Settings(corpus_dir=settings.corpus_dir, index_dir=settings.index_dir,
                              database_url="postgresql://owner:secret@127.0.0.1:9/primary-out-of-reach",
                              database_read_url=replica)
    assert Pipeline.open(searched_there, embedder).ask(ONLY_IN_ANSWER).found


def test_an_empty_database_says_to_build_the_index(settings, embedder):
    with pytest.raises(IndexMissing, match="citebot index"):
        Pipeline.open(settings, embedder)


def test_an_unreachable_database_is_one_line_without_its_password(subprocess_env, tmp_path):
    env = {**subprocess_env, "CITEBOT_DATABASE_URL": "postgresql://owner:hunter2@127.0.0.1:9/citebot",
           "CITEBOT_INDEX_DIR": str(tmp_path / "unused")}
    for command in (["ask", "who chaired the delegation?"], ["index"]):
        cli = subprocess.run([sys.executable, "-m", "bot.cli", *command], env=env, capture_output=True, text=True)
        assert cli.returncode == 1, cli.stderr
        assert "cannot reach the index database citebot on 127.0.0.1" in cli.stderr
        assert "hunter2" not in cli.stderr + cli.stdout and "Traceback" not in cli.stderr


@pytest.mark.parametrize("password", ["s3cr%t!pw", "pass word", "%zz%41-hidden"])
def test_a_malformed_database_url_is_reported_by_host_without_its_password(subprocess_env, tmp_path, password):
    env = {**subprocess_env, "CITEBOT_DATABASE_URL": f"postgresql://citebot:{password}@127.0.0.1:1/citebot",
           "CITEBOT_INDEX_DIR": str(tmp_path / "unused")}
    for command in (["ask", "who chaired the delegation?"], ["index"]):
        cli = subprocess.run([sys.executable, "-m", "bot.cli", *command], env=env, capture_output=True, text=True)
        assert cli.returncode == 1, cli.stderr
        assert "127.0.0.1" in cli.stderr and "Traceback" not in cli.stderr
        for piece in (password, password[:4], password.split()[-1], "hidden", "percent-encoded"):
            assert piece not in cli.stderr + cli.stdout, (piece, cli.stderr)


def test_the_bot_apologises_while_the_database_is_down_and_recovers_by_itself(embedder, corpus, tmp_path):
    own = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop")  # its own server, to stop and start
    try:
        settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "unused", database_url=own.get_uri())
        update_index(settings, lambda: embedder)
        pipeline = Pipeline.open(settings, embedder)
        with running_bot(pipeline, tmp_path, database_url=own.get_uri()) as (fake, _):
            def ask(text: str, chat: int) -> str:
                fake.push(fake.message_update(text, chat_id=chat, user_id=chat))
                return fake.wait_for("sendMessage", chat)[0]["text"]

            assert "Mogherini" in ask(ONLY_IN_ANSWER, 501)
            stats = ask("/stats", 504)
            assert "Documents: 2" in stats and f"Passages: {pipeline.store.meta['chunks']}" in stats
            own.cleanup()  # the database goes away
            assert "cannot be reached just now" in ask(ONLY_IN_ANSWER, 502)
            with pytest.raises(StoreUnavailable, match="cannot reach the index database"):  # `citebot ask`: one line
                pipeline.ask(ONLY_IN_ANSWER)
            own = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop")  # and comes back
            assert "Mogherini" in ask(ONLY_IN_ANSWER, 503)  # same bot, same pipeline: no restart
    finally:
        own.cleanup()


def test_a_running_bot_keeps_its_version_when_a_rebuild_is_made_with_other_chunking(settings, embedder, caplog):
    update_index(settings, lambda: embedder)
    pipeline = Pipeline.open(settings, embedder)
    assert "Mogherini" in pipeline.ask(ONLY_IN_ANSWER).answer
    served = pipeline.store.version
    other = settings.model_copy(update={"chunk_tokens": 120})  # another process rebuilds with other chunking
    update_index(other, lambda: embedder)
    for _ in range(2):  # the old version, set aside by the rebuild, answers on; the log says why, once
        answer, hits = pipeline.ask_traced(ONLY_IN_ANSWER)
        assert "Mogherini" in answer.answer and pipeline.store.version == served
        assert all(len(hit.chunk.sentences) and hit.chunk.chunk_id >= 0 for hit in hits)
    warnings = [r.getMessage() for r in caplog.records if "was rebuilt with chunking" in r.getMessage()]
    assert len(warnings) == 1 and f"keeping version {served}" in warnings[0] and "\n" not in warnings[0]
    update_index(settings, lambda: embedder)  # rebuilt as this process expects: the new version is served
    assert "Mogherini" in pipeline.ask(ONLY_IN_ANSWER).answer and pipeline.store.version != served


def test_a_mismatched_rebuild_with_no_old_version_set_aside_is_refused_in_one_line(settings, embedder):
    update_index(settings, lambda: embedder)
    pipeline = Pipeline.open(settings, embedder)
    update_index(settings.model_copy(update={"chunk_tokens": 120}), lambda: embedder)
    with psycopg.connect(settings.database_url.get_secret_value(), autocommit=True) as connection:
        connection.execute("DROP SCHEMA citebot_previous CASCADE")  # as after a second rebuild from scratch
    with pytest.raises(StoreUnavailable, match="rebuilt with chunking .*restart it with the settings") as refused:
        pipeline.ask(ONLY_IN_ANSWER)
    assert "\n" not in str(refused.value)


def test_questions_are_answered_from_the_old_index_while_a_rebuild_from_scratch_builds(settings, embedder,
                                                                                       monkeypatch):
    import threading

    from index.store import postgres_write

    update_index(settings, lambda: embedder)
    pipeline = Pipeline.open(settings, embedder)
    counting = postgres_write._count_terms

    def slow_count(connection, terms):  # the build's work, stretched: 4 s inside the rebuild's transaction
        counting(connection, terms)
        time.sleep(4)

    monkeypatch.setattr(postgres_write, "_count_terms", slow_count)
    other = settings.model_copy(update={"chunk_tokens": 120})  # another chunking: rebuilt from scratch
    rebuild = threading.Thread(target=update_index, args=(other, lambda: embedder))
    rebuild.start()
    waits = []
    try:
        time.sleep(1.5)  # well inside the build
        while rebuild.is_alive() and len(waits) < 8:
            started = time.monotonic()
            assert "Mogherini" in pipeline.ask(ONLY_IN_ANSWER).answer  # the old index, whole
            waits.append(time.monotonic() - started)
            time.sleep(0.2)
    finally:
        rebuild.join(timeout=120)
    assert len(waits) >= 3 and max(waits) < 1.0, waits  # it waited 7.9 s behind the DROP, then failed
    rebuilt = Pipeline.open(other, embedder)
    assert rebuilt.store.meta["chunking"]["chunk_tokens"] == 120
    assert rebuilt.search(ONLY_IN_ANSWER)[0].chunk.doc_id == ANSWER  # the new tables serve
    assert rows(settings, "SELECT count(*) FROM pg_namespace WHERE nspname = 'citebot_next'") == [(0,)]
    assert_consistent(settings)


def test_pages_read_by_ocr_are_cited_from_the_database_and_old_tables_gain_the_column(settings, embedder, corpus):
    from samples import mixed_pdf_bytes

    update_index(settings, lambda: embedder)
    with psycopg.connect(settings.database_url.get_secret_value(), autocommit=True) as connection:
        connection.execute("ALTER TABLE citebot_documents DROP COLUMN reading")  # as tables were written before
    assert Pipeline.open(settings, embedder).ask("When was the DVK movement banned?").found  # old tables still serve
    (corpus / "ruling.pdf").write_bytes(mixed_pdf_bytes(["Letter from the Oral city court.", "The ruling is attached."],
                                                        ["The court fined the blogger Aigul Utepova",
                                                         "500 monthly indices for a post."]))
    assert update_index(settings, lambda: embedder).added == ["ruling.pdf"]
    answer = Pipeline.open(settings, embedder).ask("How much was Aigul Utepova fined?")
    assert answer.found and answer.citations[0].place == "page 2, read by OCR"
    [(reading,)] = rows(settings, "SELECT reading FROM citebot_documents WHERE doc_id = 'ruling.pdf'")
    assert reading["reader"] == "pdf/2" and reading["ocr"].startswith("tesseract ")
    assert update_index(settings, lambda: embedder).up_to_date  # what was read by OCR is not read again
