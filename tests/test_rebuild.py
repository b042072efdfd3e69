"""Rebuilding after the corpus changes: only what changed is embedded, answers follow, nothing breaks."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from index.ingest.build import update_index
from index.pipeline import Pipeline
from index.settings import Settings
from index.store.file_target import build_lock
from index.store.files import BuildBusy, current_version
from samples import encrypted_pdf_bytes

PRESS = "2022-08-24-ep-press-release-droi-visit-kazakhstan.txt"
MOTION = "2019-03-ep-motion-for-resolution-b8-0205-2019.txt"
ANSWER = "2018-02-21-ep-answer-e-007094-2017-dzhakishev-tokmadi.txt"
ONLY_IN_PRESS = "Who hosted the MEPs at the Majilis?"  # Aigul Kuspan, named only in the press release


@pytest.fixture
def settings(corpus, tmp_path):
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index")


@pytest.fixture(params=["folder", "postgres"])
def any_store(request, corpus, tmp_path):
    """Settings for the index folder, then for PostgreSQL (pgserver): for what must hold in both stores."""
    url = request.getfixturevalue("database_url") if request.param == "postgres" else ""
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", database_url=url)


def no_model():
    raise AssertionError("the model was loaded although nothing needed embedding")


def test_adding_a_document_embeds_only_it_and_answers_follow(settings, embedder, corpus, corpus_dir):
    first = update_index(settings, lambda: embedder)
    assert sorted(first.added) == [ANSWER, MOTION] and first.unchanged == 0
    pipeline = Pipeline.open(settings, embedder)
    assert not pipeline.ask(ONLY_IN_PRESS).found

    shutil.copy(corpus_dir / PRESS, corpus / PRESS)
    report = update_index(settings, lambda: embedder)
    assert (report.added, report.changed, report.removed, report.unchanged) == ([PRESS], [], [], 2)
    docs = json.loads((current_version(settings.index_dir) / "docs.json").read_text())
    assert report.chunks_embedded == len(docs[PRESS]["chunk_ids"]) == report.chunks - first.chunks
    assert docs[MOTION]["chunk_ids"] == json.loads(json.dumps(docs[MOTION]["chunk_ids"]))  # ids kept

    answer = pipeline.ask(ONLY_IN_PRESS)  # the same pipeline, no restart
    assert answer.found and "Kuspan" in answer.answer
    assert answer.citations[0].doc_id == PRESS


def test_nothing_changed_costs_a_hash_and_no_model(settings, embedder):
    update_index(settings, lambda: embedder)
    version = current_version(settings.index_dir)
    report = update_index(settings, no_model)
    assert report.up_to_date and report.unchanged == 2 and report.chunks_embedded == 0
    assert current_version(settings.index_dir) == version  # nothing rewritten
    assert report.summary().startswith("Index up to date: 2 documents")


def test_changing_a_document_re_embeds_it_alone(settings, embedder, corpus):
    first = update_index(settings, lambda: embedder)
    pipeline = Pipeline.open(settings, embedder)
    question = "When did the EU delegation visit Astana's Lake Borovoe?"
    assert not pipeline.ask(question).found
    with open(corpus / ANSWER, "a", encoding="utf-8") as handle:
        handle.write("\nOn 3 March 2018 an EU delegation visited Astana's Lake Borovoe to meet local activists.\n")
    report = update_index(settings, lambda: embedder)
    assert (report.added, report.changed, report.removed, report.unchanged) == ([], [ANSWER], [], 1)
    docs = json.loads((current_version(settings.index_dir) / "docs.json").read_text())
    assert report.chunks_embedded == len(docs[ANSWER]["chunk_ids"]) < first.chunks
    answer = pipeline.ask(question)
    assert answer.found and "3 March 2018" in answer.answer


def test_a_removed_document_is_never_cited_again(settings, embedder, corpus):
    update_index(settings, lambda: embedder)
    pipeline = Pipeline.open(settings, embedder)
    question = "Whom did the EU meet about the Tokmadi case?"
    assert ANSWER in {c.doc_id for c in pipeline.ask(question).citations}
    (corpus / ANSWER).unlink()
    report = update_index(settings, no_model)  # removing needs no embedding
    assert (report.removed, report.unchanged, report.chunks_embedded) == ([ANSWER], 1, 0)
    for q in (question, "What did the EU urge Kazakhstan to do about Mr Dzhakishev?", "Mogherini"):
        assert ANSWER not in {c.doc_id for c in pipeline.ask(q).citations}
    store = pipeline.refresh()
    assert all(c.doc_id != ANSWER for c in store.chunks.values())
    assert store.lexical.search(["mogherini"], 5) == []  # its words are gone from BM25 too


def test_new_chunking_settings_rebuild_everything_and_say_why(any_store, embedder):
    settings = any_store
    update_index(settings, lambda: embedder)
    report = update_index(settings.model_copy(update={"chunk_tokens": 120}), lambda: embedder)
    assert report.rebuilt_because.startswith("the chunking changed")
    assert sorted(report.added) == [ANSWER, MOTION]
    assert report.summary().startswith("Rebuilt from scratch: the chunking changed")


def test_bad_documents_are_reported_and_the_rest_indexed(any_store, embedder, corpus):
    settings = any_store
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3 broken beyond repair")
    (corpus / "locked.pdf").write_bytes(encrypted_pdf_bytes())
    (corpus / "photo.txt").write_bytes(bytes(range(256)) * 64)
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "huge.txt").write_text("Kazakhstan. " * 200_000)
    (corpus / "legacy.txt").write_bytes("Na\u00efve caf\u00e9 activists met in Almaty on 5 May 2020.".encode("cp1252"))
    report = update_index(settings.model_copy(update={"max_file_mb": 1}), lambda: embedder)
    reasons = {f["doc_id"]: f["error"] for f in report.failed}
    assert set(reasons) == {"corrupt.pdf", "locked.pdf", "photo.txt", "empty.md", "huge.txt"}
    assert "unreadable PDF" in reasons["corrupt.pdf"] and "encrypted" in reasons["locked.pdf"]
    assert "binary" in reasons["photo.txt"] and "empty" in reasons["empty.md"] and "MB limit" in reasons["huge.txt"]
    assert set(report.added) == {ANSWER, "legacy.txt", MOTION}
    answer = Pipeline.open(settings, embedder).ask("Where did the café activists meet on 5 May 2020?")
    assert answer.found and "Almaty" in answer.answer


def test_a_document_that_turns_unreadable_keeps_its_previous_version(any_store, embedder, corpus):
    settings = any_store
    update_index(settings, lambda: embedder)
    (corpus / ANSWER).write_bytes(b"\x00\x01\x02 binary garbage")
    report = update_index(settings, lambda: embedder)
    assert report.failed == [{"doc_id": ANSWER, "error": "binary content in a text file "
                                                         "(the previously indexed version is kept)"}]
    assert "Mogherini" in Pipeline.open(settings, embedder).ask(
        "Which EU official answered the parliamentary question on Dzhakishev and Tokmadi?").citations[0].quote


def test_a_second_rebuild_at_the_same_time_is_refused_clearly(settings, embedder):
    with build_lock(settings.index_dir):
        with pytest.raises(BuildBusy, match=r"another rebuild of .* is running \(pid \d+\)"):
            update_index(settings, lambda: embedder)
    assert update_index(settings, lambda: embedder).added  # free again afterwards


def test_questions_in_flight_during_rebuilds_are_all_answered(any_store, embedder, corpus, corpus_dir):
    settings = any_store
    update_index(settings, lambda: embedder)
    pipeline = Pipeline.open(settings, embedder)
    failures, answers = [], []

    def keep_asking() -> None:
        for _ in range(40):
            try:
                answers.append(pipeline.ask("When was the Democratic Choice of Kazakhstan movement banned?"))
            except Exception as error:  # noqa: BLE001 - any failure is what this test looks for
                failures.append(error)

    askers = [threading.Thread(target=keep_asking) for _ in range(3)]
    for asker in askers:
        asker.start()
    for name in (PRESS, ANSWER):  # two switches while the askers run
        if (corpus / name).exists():
            (corpus / name).unlink()
        else:
            shutil.copy(corpus_dir / name, corpus / name)
        update_index(settings, lambda: embedder)
    for asker in askers:
        asker.join()
    assert failures == []
    assert len(answers) == 120 and all("13 March 2018" in a.answer for a in answers)


@pytest.mark.parametrize("moment", ["while embedding", "while writing the new version"])
def test_a_rebuild_killed_midway_leaves_the_previous_index_answering(settings, embedder, corpus, corpus_dir,
                                                                     subprocess_env, moment):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    update_index(settings, lambda: embedder)
    before = current_version(settings.index_dir)
    for copy in range(6):  # enough new text that the rebuild takes seconds
        text = (corpus_dir / PRESS).read_text(encoding="utf-8").replace("22-24 August", f"2{copy} August")
        (corpus / f"copy-{copy}-{PRESS}").write_text(text, encoding="utf-8")
    citebot = str(Path(sys.executable).with_name("citebot"))
    process = subprocess.Popen([citebot, "index", "--corpus", str(corpus), "--index-dir", str(settings.index_dir)],
                               env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        partial = list(settings.index_dir.glob(".*.partial"))
        if (moment == "while embedding" and (settings.index_dir / "build.lock").read_text().startswith("pid")) or (
                moment != "while embedding" and partial):
            break
        time.sleep(0.005)
    assert process.poll() is None, "the rebuild finished before it could be killed"
    if moment == "while embedding":
        time.sleep(2.0)  # inside the model load or the encoding
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert current_version(settings.index_dir) == before
    answer = Pipeline.open(settings, embedder).ask("When was the Democratic Choice of Kazakhstan movement banned?")
    assert answer.found and "13 March 2018" in answer.answer
    report = update_index(settings, lambda: embedder)  # the lock died with the process
    assert len(report.added) == 6 and report.unchanged == 2
    assert not list(settings.index_dir.glob(".*.partial"))
    assert Pipeline.open(settings, embedder).ask(ONLY_IN_PRESS).found
