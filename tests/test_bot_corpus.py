"""The bot and a changing corpus: documents sent by admins, rebuilds picked up without a restart."""

from __future__ import annotations

import shutil

import pytest

from bot_harness import running_bot
from index.ingest.build import update_index
from index.pipeline import Pipeline
from index.settings import Settings

ADMIN = 77
MOTION = "2019-03-ep-motion-for-resolution-b8-0205-2019.txt"
NEW_FACT = """---
title: Field notes from Aktau
date: 2023-05-02
---
The monitors counted 42 detained protesters in Aktau on 2 May 2023.
"""
QUESTION = "How many protesters were detained in Aktau on 2 May 2023?"


@pytest.fixture
def small_pipeline(tmp_path, corpus_dir, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(corpus_dir / MOTION, corpus / MOTION)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    update_index(settings, lambda: embedder)
    return Pipeline.open(settings, embedder)


def say(fake, chat: int, count: int = 1, **update) -> list[dict]:
    before = len(fake.sent("sendMessage", chat))
    fake.push(update)
    return fake.wait_for("sendMessage", chat, count=before + count, timeout=60)[before:]


def test_admin_document_is_saved_safely_indexed_and_answered(small_pipeline, tmp_path):
    corpus = small_pipeline.settings.corpus_dir
    with running_bot(small_pipeline, tmp_path, admins=[ADMIN]) as (fake, _):
        assert "do not answer" in say(fake, ADMIN, **fake.message_update(QUESTION, ADMIN, ADMIN))[0]["text"]
        replies = say(fake, ADMIN, count=2, **fake.document_update("../../notes from Aktau.md", NEW_FACT.encode(),
                                                                     ADMIN, ADMIN))
        assert replies[0]["text"] == "Saved as notes-from-Aktau.md. Indexing…"
        assert replies[1]["text"].startswith("Index updated in")
        assert "1 added, 0 changed, 0 removed, 1 unchanged" in replies[1]["text"]
        assert (corpus / "notes-from-Aktau.md").read_text() == NEW_FACT
        answer = say(fake, ADMIN, **fake.message_update(QUESTION, ADMIN, ADMIN))[0]["text"]
        assert "42 detained protesters in Aktau on 2 May 2023. [1]" in answer and "Field notes from Aktau" in answer

        replies = say(fake, ADMIN, count=2, **fake.document_update("notes from Aktau.md", b"Another text.", ADMIN, ADMIN))
        assert replies[0]["text"] == ("A document named notes-from-Aktau.md is already in the corpus, "
                                      "so I saved this one as notes-from-Aktau-2.md. Indexing…")
        assert (corpus / "notes-from-Aktau.md").read_text() == NEW_FACT  # not overwritten
        assert sorted(p.name for p in corpus.iterdir()) == [MOTION, "notes-from-Aktau-2.md", "notes-from-Aktau.md"]

        refused = say(fake, 78, **fake.document_update("x.md", b"Non-admins cannot add documents.", 78, 78))
        assert refused[0]["text"] == "I can only read text. Please type your question as a message."
        wrong = say(fake, ADMIN, **fake.document_update("setup.exe", b"MZ...", ADMIN, ADMIN))
        assert wrong[0]["text"].startswith("I can index .txt, .md")
    assert not (corpus / "x.md").exists() and not list(corpus.glob(".upload-*"))


def test_running_bot_serves_a_rebuild_made_outside_it(small_pipeline, tmp_path):
    with running_bot(small_pipeline, tmp_path) as (fake, _):
        assert "do not answer" in say(fake, 5, **fake.message_update(QUESTION, 5, 5))[0]["text"]
        (small_pipeline.settings.corpus_dir / "aktau.md").write_text(NEW_FACT)
        update_index(small_pipeline.settings, lambda: small_pipeline.embedder)  # as `citebot index` would
        assert "42 detained protesters" in say(fake, 5, **fake.message_update(QUESTION, 5, 5))[0]["text"]


def test_uploads_keep_their_extension_fit_the_file_system_and_are_sized_by_their_bytes(small_pipeline, tmp_path):
    corpus = small_pipeline.settings.corpus_dir
    with running_bot(small_pipeline, tmp_path, admins=[ADMIN], max_file_mb=0.01) as (fake, _):  # about 10 KB
        long_name = say(fake, ADMIN, count=2, **fake.document_update("a" * 300 + ".txt", b"Long names are cut.",
                                                                       ADMIN, ADMIN))
        assert long_name[0]["text"] == f"Saved as {'a' * 196}.txt. Indexing…"
        wide_name = say(fake, ADMIN, count=2, **fake.document_update("中" * 100 + ".txt", "中文".encode(), ADMIN, ADMIN))
        assert wide_name[0]["text"].startswith("Saved as 中") and wide_name[0]["text"].endswith(".txt. Indexing…")
        liar = fake.document_update("claims-small.txt", b"x" * 50_000, ADMIN, ADMIN)
        liar["message"]["document"]["file_size"] = 100  # what the sender claims; 50 KB arrive
        refused = say(fake, ADMIN, **liar)
        assert refused[0]["text"].startswith("That file is over 0.01 MB")
    names = [p.name for p in corpus.iterdir()]
    assert "claims-small.txt" not in names and not list(corpus.glob(".upload-*"))
    assert all(len(name.encode()) <= 200 for name in names)


def test_a_document_sent_to_one_replica_survives_a_reindex_on_another(tmp_path, corpus_dir, embedder, database_url):
    pipelines = []
    for name in ("a", "b"):  # two replicas: their own corpus folders, one database
        corpus = tmp_path / name / "corpus"
        corpus.mkdir(parents=True)
        shutil.copy(corpus_dir / MOTION, corpus / MOTION)
        settings = Settings(corpus_dir=corpus, index_dir=tmp_path / name / "unused", database_url=database_url)
        if not pipelines:
            update_index(settings, lambda: embedder)
        pipelines.append(Pipeline.open(settings, embedder))
    first, second = pipelines
    with running_bot(first, tmp_path / "a", admins=[ADMIN], database_url=database_url) as (fake, _):
        replies = say(fake, ADMIN, count=2, **fake.document_update("notes from Aktau.md", NEW_FACT.encode(),
                                                                     ADMIN, ADMIN))
        assert "1 added" in replies[1]["text"]
    with running_bot(second, tmp_path / "b", admins=[ADMIN], database_url=database_url) as (fake, _):
        report = say(fake, ADMIN, count=2, **fake.message_update("/reindex", ADMIN, ADMIN))[1]["text"]
        assert "Index up to date: 2 documents" in report, report  # the upload came from the database to this folder
        assert (second.settings.corpus_dir / "notes-from-Aktau.md").read_text() == NEW_FACT
        answer = say(fake, ADMIN, **fake.message_update(QUESTION, ADMIN, ADMIN))[0]["text"]
        assert "42 detained protesters" in answer
        # the same name sent to this replica is not written over the first one's
        replies = say(fake, ADMIN, count=2, **fake.document_update("notes from Aktau.md", b"Other notes.", ADMIN, ADMIN))
        assert "saved this one as notes-from-Aktau-2.md" in replies[0]["text"]


def test_an_admin_sends_a_spreadsheet_and_a_scanned_letter_and_their_places_are_cited(small_pipeline, tmp_path):
    from samples import image_bytes, mixed_pdf_bytes, xlsx_bytes

    sheet = xlsx_bytes({"Journalists": [["Region", "Journalists detained"], ["Pavlodar", 14], ["Kostanay", 3]]})
    scan = mixed_pdf_bytes(["Letter from the Oral city court.", "The ruling is attached."],
                           ["The court fined the blogger Aigul Utepova", "500 monthly indices for a post."])
    with running_bot(small_pipeline, tmp_path, admins=[ADMIN]) as (fake, _):
        for name, data in (("detentions.xlsx", sheet), ("ruling.pdf", scan)):
            replies = say(fake, ADMIN, count=2, **fake.document_update(name, data, ADMIN, ADMIN))
            assert replies[0]["text"] == f"Saved as {name}. Indexing…" and "1 added" in replies[1]["text"]
        assert "1 scanned page(s) read by OCR." in replies[1]["text"]
        answer = say(fake, ADMIN, **fake.message_update("How many journalists were detained in Pavlodar?", ADMIN,
                                                         ADMIN))[0]["text"]
        assert "Region: Pavlodar; Journalists detained: 14." in answer and "sheet Journalists" in answer
        answer = say(fake, ADMIN, **fake.message_update("How much was Aigul Utepova fined?", ADMIN, ADMIN))[0]["text"]
        assert "500 monthly indices" in answer and "page 2, read by OCR" in answer
        source = say(fake, ADMIN, **fake.message_update("/source 1", ADMIN, ADMIN))[0]["text"]
        assert "ruling.pdf · page 2, read by OCR" in source and "500 monthly indices" in source


def test_an_admin_sends_a_photo_of_a_page_and_it_is_read_by_ocr_and_cited(small_pipeline, tmp_path):
    from samples import image_bytes, page_image

    page = page_image(["Decision of the Uralsk court, 3 March 2022.", "The court fined the journalist Lukpan",
                       "Akhmedyarov 300 monthly indices."], dpi=150)
    photo = image_bytes(page.convert("RGB"), "JPEG")
    corpus = small_pipeline.settings.corpus_dir
    with running_bot(small_pipeline, tmp_path, admins=[ADMIN]) as (fake, _):
        refused = say(fake, 78, **fake.photo_update(photo, *page.size, 78, 78))
        assert refused[0]["text"] == "I can only read text. Please type your question as a message."
        replies = say(fake, ADMIN, count=2, **fake.photo_update(photo, *page.size, ADMIN, ADMIN))
        assert replies[0]["text"].startswith("Saved as photo-") and replies[0]["text"].endswith(".jpg. Indexing…")
        assert "1 added" in replies[1]["text"] and "1 scanned page(s) read by OCR." in replies[1]["text"]
        answer = say(fake, ADMIN, **fake.message_update("How much was Lukpan Akhmedyarov fined?", ADMIN,
                                                         ADMIN))[0]["text"]
        assert "300 monthly indices" in answer and "the image, read by OCR" in answer
    assert [p.read_bytes() for p in corpus.glob("photo-*.jpg")] == [photo]  # the largest size, not the thumbnail
