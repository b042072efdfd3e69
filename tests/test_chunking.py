"""Chunks are exact, overlapping runs of whole sentences that fit the model's input."""

from __future__ import annotations

from index.ingest.chunking import SPECIAL_TOKENS, chunk_document, embedding_text, quotable_units
from index.ingest.readers import read_document

MOTION = "2019-03-ep-motion-for-resolution-b8-0205-2019.txt"


def test_chunks_are_exact_spans_that_fit_the_token_budget(embedder, corpus_dir):
    doc = read_document(corpus_dir / MOTION, MOTION)
    chunks = chunk_document(doc, 0, embedder.count_tokens, 200, 48)
    assert len(chunks) > 5
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert embedder.count_tokens([embedding_text(doc.title, chunk.text)])[0] + SPECIAL_TOKENS <= 200 + 2
        for start, end in chunk.sentences:
            assert 0 <= start < end <= len(chunk.text)
    assert [c.chunk_id for c in chunks] == list(range(len(chunks)))


def test_consecutive_chunks_overlap_by_whole_sentences(embedder, corpus_dir):
    doc = read_document(corpus_dir / MOTION, MOTION)
    chunks = chunk_document(doc, 0, embedder.count_tokens, 200, 48)
    overlapping = 0
    for before, after in zip(chunks, chunks[1:]):
        last_start, last_end = before.sentences[-1]
        last_tokens = embedder.count_tokens([before.text[last_start:last_end]])[0]
        if last_tokens <= 80:  # a sentence longer than half a chunk is not repeated
            assert after.start < before.end
            overlapping += 1
        sentence_starts = {before.start + s for s, _ in before.sentences} | {before.end}
        assert after.start in sentence_starts or after.start > before.end  # never starts mid-sentence
    assert overlapping >= len(chunks) // 2


def test_long_resolution_sentences_are_split_into_quotable_clauses():
    text = ("M. whereas Kazakh authorities have consistently marginalized or imprisoned genuine opposition figures; "
            "whereas opposition parties have been banned through laws against extremism; whereas the Democratic "
            "Choice of Kazakhstan (DVK) movement was banned on 13 March 2018; whereas a number of people were "
            "detained for sharing DVK materials and participating in its rallies;")
    units = [text[s:e] for s, e in quotable_units(text)]
    assert "whereas the Democratic Choice of Kazakhstan (DVK) movement was banned on 13 March 2018;" in units
    assert units[0].startswith("M. whereas")


def test_every_chunk_of_the_corpus_keeps_document_metadata(pipeline):
    for chunk in pipeline.store.chunks.values():
        doc = pipeline.store.docs[chunk.doc_id]
        assert doc["title"] and doc["content_hash"]
        assert chunk.chunk_id in doc["chunk_ids"]
    assert len(pipeline.store.docs) == 5


def _units_of(path: str) -> list[str]:
    from pathlib import Path

    from index.ingest.chunking import quotable_units
    from index.ingest.readers import ReadLimits, read_document

    doc = read_document(Path(__file__).resolve().parent.parent / "corpus" / path, path, ReadLimits(max_bytes=10**8))
    return [doc.text[s:e] for s, e in quotable_units(doc.text)]


def test_a_heading_stays_with_the_label_line_under_it():
    units = _units_of("2022-08-24-ep-press-release-droi-visit-kazakhstan.txt")
    assert any(u.startswith("Composition of the delegation\n\nChair of the delegation: Christian Sagartz") for u in units)


def test_a_name_with_an_exclamation_mark_is_not_cut():
    units = _units_of("2019-03-ep-motion-for-resolution-b8-0205-2019.txt")
    assert "welcomes the release on parole of the Alga! opposition party leader Vladimir Kozlov;" in units


def test_abbreviations_and_initials_do_not_end_a_sentence():
    from index.ingest.chunking import quotable_units

    text = ("He cited Art. 19 of the Covenant. See No. 5 of the list. J. R. Smith and the U.S. government met on "
            "5 Jan. 2019 in Washington. Mr. Kozlov said so.")
    assert [text[s:e] for s, e in quotable_units(text)] == [
        "He cited Art. 19 of the Covenant.", "See No. 5 of the list.",
        "J. R. Smith and the U.S. government met on 5 Jan. 2019 in Washington.", "Mr. Kozlov said so."]


def test_a_line_break_inside_a_sentence_does_not_cut_the_unit():
    # The source file breaks this sentence after "Bokayev" with a blank line (the bundled ODF document).
    text = ("Intro sentence here, as written.\n\"Civil society activists Maks Bokayev\n\nand Talgat Ayan received "
            "prison terms for participating in peaceful rally. The UN Working Group recommended release.")
    units = [text[s:e] for s, e in quotable_units(text)]
    assert any("Maks Bokayev" in u and "received prison terms" in u for u in units), units
    assert "Intro sentence here, as written." in units


def test_the_bokayev_sentence_is_one_unit_of_the_bundled_document(corpus_dir):
    doc = read_document(corpus_dir / "2017-11-odf-meps-political-prisoners-eu-kazakhstan-pca.md",
                        "2017-11-odf-meps-political-prisoners-eu-kazakhstan-pca.md")
    units = [doc.text[s:e] for s, e in quotable_units(doc.text)]
    assert any("Bokayev" in u and "peaceful rally" in u for u in units)
