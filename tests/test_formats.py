"""Every document format, read from a real file made in the test: its fact found by a question, with its place."""

from __future__ import annotations

import pytest

from index.ingest.build import update_index
from index.ingest.formats import FORMATS, SUPPORTED_SUFFIXES, format_for
from index.ingest.readers import DocumentError, read_document
from index.pipeline import Pipeline
from index.settings import Settings
from samples import (docx_bytes, epub_bytes, image_bytes, mixed_pdf_bytes, odt_bytes, page_image,
                     pptx_bytes, rtf_bytes, xlsx_bytes)

HTML_TABLE = """<!doctype html><html><head><title>Hunger strikes in 2021</title></head><body><article>
<h1>Hunger strikes in 2021</h1>
<p>The monitors visited every colony where prisoners refused food in 2021 and recorded what they were told.</p>
<table><thead><tr><th>Colony</th><th>Prisoners on hunger strike</th></tr></thead>
<tbody><tr><td>Granitny</td><td>19</td></tr><tr><td>Zarechny</td><td>6</td></tr></tbody></table>
<p>Most of the strikes ended within two weeks after the administration promised medical care.</p>
</article></body></html>"""

# One file of each format: (name, bytes, a question, what the cited passage holds, where it stands in the file).
FILES = {
    ".txt": ("aral.txt", b"The Aral Sea monitoring mission counted 12 fishing villages along the northern shore.",
             "How many fishing villages did the Aral Sea mission count?", "12 fishing villages", None),
    ".html": ("strikes.html", HTML_TABLE.encode(), "How many prisoners were on hunger strike in Granitny?",
              "Colony: Granitny; Prisoners on hunger strike: 19.", None),
    ".pdf": ("annex.pdf", None, "How long was Max Bokayev sentenced to by the court?", "five years",
             "page 2, read by OCR"),
    ".docx": ("offices.docx", None, "How many cases were registered by the Aktobe office?",
              "Office: Aktobe; Cases registered: 47.", None),
    ".odt": ("karaganda.odt", odt_bytes(["The Karaganda observers recorded 31 detentions during the May rally."],
                                        title="Karaganda observers"),
             "How many detentions did the Karaganda observers record?", "31 detentions", None),
    ".rtf": ("shymkent.rtf", rtf_bytes(["The Shymkent bar association suspended 9 defence lawyers in 2021."]),
             "How many defence lawyers did the Shymkent bar suspend?", "9 defence lawyers", None),
    ".epub": ("semey.epub", epub_bytes([("Introduction", "<p>This book collects clinic reports.</p>"),
                                        ("The clinic", "<p>The Semey clinic treated 64 victims of radiation in 2020."
                                                       "</p>")], title="Clinic reports"),
              "How many victims of radiation did the Semey clinic treat?", "64 victims", "chapter 2"),
    ".pptx": ("training.pptx", pptx_bytes([("Training plan", "Sessions for new monitors", ""),
                                           ("Taraz", "Volunteer training", "The Taraz training reached 250 volunteers "
                                                                           "in three days.")]),
              "How many volunteers did the Taraz training reach?", "250 volunteers", "slide 2"),
    ".xlsx": ("detentions.xlsx", xlsx_bytes({"Journalists": [["Region", "Journalists detained"], ["Pavlodar", 14],
                                                             ["Kostanay", 3]]}),
              "How many journalists were detained in Pavlodar?", "Region: Pavlodar; Journalists detained: 14.",
              "sheet Journalists"),
    ".csv": ("assemblies.csv", b"City,Peaceful assemblies banned\nAtyrau,23\nAktau,8\n",
             "How many peaceful assemblies were banned in Atyrau?", "City: Atyrau; Peaceful assemblies banned: 23.",
             None),
    ".png": ("fine.png", None, "How much did the Oral city court fine the blogger?", "500 monthly indices",
             "the image, read by OCR"),
}


def _bytes(suffix: str) -> bytes:
    name, data, *_ = FILES[suffix]
    if data is not None:
        return data
    if suffix == ".pdf":
        return mixed_pdf_bytes(["Annual report on political prisoners in Kazakhstan.", "The annex holds the rulings."],
                               ["Annex: the court sentenced Max Bokayev", "to five years in prison in November 2016."])
    if suffix == ".docx":
        return docx_bytes(["Complaints registered by our offices in 2022."],
                          table=[["Office", "Cases registered"], ["Aktobe", "47"], ["Almaty", "112"]],
                          after=["Figures are as of 31 December."])
    return image_bytes(page_image(["The Oral city court fined the blogger", "500 monthly indices for a post."]))


def test_every_format_in_the_registry_has_a_real_file_here():
    covered = {format_for(suffix) for suffix in FILES}
    assert covered == set(FORMATS), "a format without a file in this test"
    assert len(set(SUPPORTED_SUFFIXES)) == len(SUPPORTED_SUFFIXES)  # no suffix claimed twice


@pytest.mark.parametrize("suffix", sorted(FILES))
def test_each_format_reads_its_fact_and_where_it_stands(suffix, tmp_path):
    name, _, _, fact, place = FILES[suffix]
    path = tmp_path / name
    path.write_bytes(_bytes(suffix))
    doc = read_document(path, name)
    assert fact in doc.text
    assert doc.reader == format_for(suffix).signature
    if place is not None:
        located = [p for p in doc.places if p.shown() == place]
        assert located and fact in doc.text[located[0].start:]


def test_an_unsupported_file_is_refused_by_suffix(tmp_path):
    path = tmp_path / "setup.exe"
    path.write_bytes(b"MZ")
    with pytest.raises(DocumentError, match=r"unsupported file type \.exe"):
        read_document(path, "setup.exe")


@pytest.fixture(scope="module")
def every_format(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("formats")
    corpus = folder / "corpus"
    corpus.mkdir()
    for suffix, (name, *_) in FILES.items():
        (corpus / name).write_bytes(_bytes(suffix))
    settings = Settings(corpus_dir=corpus, index_dir=folder / "index")
    report = update_index(settings, lambda: embedder)
    return report, Pipeline.open(settings, embedder)


def test_a_corpus_of_every_format_is_indexed_whole(every_format):
    report, _ = every_format
    assert report.failed == [] and sorted(report.added) == sorted(name for name, *_ in FILES.values())
    assert report.ocr_pages == 2  # the PDF's scanned annex and the picture
    assert "2 scanned page(s) read by OCR." in report.summary()


@pytest.mark.parametrize("suffix", sorted(FILES))
def test_a_question_finds_the_fact_inside_each_format_and_names_its_place(suffix, every_format):
    _, pipeline = every_format
    name, _, question, fact, place = FILES[suffix]
    answer = pipeline.ask(question)
    assert answer.found and fact in answer.answer, answer.answer
    cited = answer.citations[0]
    assert cited.doc_id == name and fact in cited.quote
    assert cited.place == place  # "page 2, read by OCR": where to check it in the file


@pytest.mark.parametrize(("doc_id", "entry", "again"), [
    ("report.pdf", {}, True),  # indexed before readers had versions: PDFs are read better now (pages, OCR)
    ("notes.txt", {}, False),  # text is read as it was
    ("report.pdf", {"reader": "pdf/2"}, False),
    ("scan.png", {"reader": "png/1", "ocr": "no OCR engine"}, True),  # Tesseract installed since
    ("scan.png", {"reader": "png/1", "ocr": "tesseract 5.3.0 eng"}, False),
])
def test_a_file_is_read_again_only_when_its_reader_or_its_ocr_changed(doc_id, entry, again):
    from index.ingest.build import _read_otherwise

    assert _read_otherwise(doc_id, entry, "tesseract 5.3.0 eng") is again


def test_the_readme_lists_the_formats_of_the_registry():
    from pathlib import Path

    from index.ingest.formats import format_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert format_table() in readme, "README: paste `python -m index.ingest.formats` over the table of formats"


@pytest.mark.parametrize("suffix", [".docx", ".xlsx", ".pptx", ".odt", ".epub"])
def test_a_zip_with_a_damaged_version_field_is_one_line_not_a_crash(suffix, tmp_path):
    # Found by the fuzz campaign: zipfile raises NotImplementedError ("zip file version 13.2") for it.
    name, *_ = next(v for k, v in FILES.items() if k == suffix)
    data = bytearray(_bytes(suffix))
    central = data.find(b"PK\x01\x02")
    data[central + 6] = 200  # "version needed to extract": 20.0
    path = tmp_path / name
    path.write_bytes(bytes(data))
    with pytest.raises(DocumentError, match=r"^unreadable [A-Z]+ \(NotImplementedError\)$"):
        read_document(path, name)
