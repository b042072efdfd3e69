"""Scanned pages and pictures of pages: read by OCR (Tesseract), reported when it cannot, bounded when hostile."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from index.ingest.build import update_index
from index.ingest.formats import ocr
from index.ingest.formats.base import ReadLimits
from index.ingest.readers import read_document
from index.ingest.reading import read_files
from index.pipeline import Pipeline
from index.settings import Settings
from samples import image_bytes, mixed_pdf_bytes, page_image, pdf_bytes, scanned_pdf_bytes

TEXT_PAGE = ["Annual report on political prisoners in Kazakhstan.", "The annex holds the rulings."]
SCANNED_PAGE = ["Annex: the court sentenced Max Bokayev", "to five years in prison in November 2016."]
OTHER = b"The Aral Sea monitoring mission counted 12 fishing villages along the northern shore."


@pytest.fixture
def no_tesseract(monkeypatch, tmp_path):
    """A machine without Tesseract: nothing on PATH (the reader worker runs Python by its full path)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    ocr.engine.cache_clear()
    ocr.installed_languages.cache_clear()
    yield
    monkeypatch.undo()
    ocr.engine.cache_clear()
    ocr.installed_languages.cache_clear()


def test_tesseract_is_installed_here_with_english_russian_and_kazakh():
    assert ocr.engine(), "OCR needs Tesseract: `make ocr` installs it (apt install tesseract-ocr ...)"
    assert {"eng", "rus", "kaz"} <= ocr.installed_languages()


def test_a_mixed_pdf_keeps_its_text_page_and_reads_its_scanned_page(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(mixed_pdf_bytes(TEXT_PAGE, SCANNED_PAGE))
    doc = read_document(path, "report.pdf")
    first, second = doc.places
    assert (first.label, first.ocr, second.label, second.ocr) == ("page 1", False, "page 2", True)
    assert doc.text[: second.start].strip().startswith("Annual report on political prisoners in Kazakhstan.")
    assert "sentenced Max Bokayev to five years in prison in November 2016." in doc.text[second.start :]
    assert doc.ocr_pages == 1 and doc.ocr == ocr.signature("eng")


def test_running_heads_page_numbers_and_line_end_hyphens_are_cleaned(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    bodies = [["The commission examined the inter-", "national standards on detention in 2021."],
              ["Visits to pre-trial facilities were refused", "on three occasions by the administration."],
              ["The ombudsman published recommen-", "dations on the use of solitary confinement."],
              ["The report ends with the list of", "organisations that contributed to it."]]
    for number, body in enumerate(bodies, 1):
        page = pdf_bytes(["Kazakhstan Monitor | Annual Report 2021", *body, f"Page {number} of 4"])
        writer.append(PdfReader(io.BytesIO(page)))
    out = io.BytesIO()
    writer.write(out)
    path = tmp_path / "annual.pdf"
    path.write_bytes(out.getvalue())
    doc = read_document(path, "annual.pdf")
    assert "Annual Report 2021" not in doc.text and "of 4" not in doc.text
    assert "the international standards" in doc.text and "recommendations on the use" in doc.text
    assert [p.label for p in doc.places] == ["page 1", "page 2", "page 3", "page 4"]
    assert doc.text[doc.places[2].start :].startswith("The ombudsman published recommendations")


def test_ocr_pages_are_counted_as_they_are_read(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(scanned_pdf_bytes([page_image(SCANNED_PAGE, dpi=200), page_image(TEXT_PAGE, dpi=200)]))
    pages = []
    [doc] = read_files([(path, "scan.pdf")], ReadLimits(), lambda: pages.append(1))
    assert len(pages) == 2 and doc.ocr_pages == 2 and "Max Bokayev" in doc.text


def test_without_tesseract_a_scan_is_reported_in_one_line_the_rest_indexed_and_read_once_it_is_installed(
        tmp_path, embedder, no_tesseract, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(mixed_pdf_bytes(TEXT_PAGE, SCANNED_PAGE))
    (corpus / "letter.png").write_bytes(image_bytes(page_image(SCANNED_PAGE)))
    (corpus / "aral.txt").write_bytes(OTHER)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = update_index(settings, lambda: embedder)
    assert sorted(report.added) == ["aral.txt", "report.pdf"]
    install = "apt install tesseract-ocr"
    assert report.notes == [{"doc_id": "report.pdf", "note": "1 scanned page(s) not read (page 2): they need OCR, "
                                                            f"which is not installed ({ocr.INSTALL})"}]
    [failed] = report.failed
    assert failed["doc_id"] == "letter.png" and install in failed["error"] and "\n" not in failed["error"]

    monkeypatch.undo()  # Tesseract is back on PATH, as after `make ocr`
    ocr.engine.cache_clear()
    ocr.installed_languages.cache_clear()
    again = update_index(settings, lambda: embedder)
    assert (again.added, again.changed, again.unchanged) == (["letter.png"], ["report.pdf"], 1)
    assert again.ocr_pages == 2 and again.notes == [] and again.failed == []
    answer = Pipeline.open(settings, embedder).ask("How long was Max Bokayev sentenced to?")
    assert answer.found and "five years" in answer.answer
    assert update_index(settings, lambda: embedder).up_to_date  # a scan is read once


def test_other_ocr_languages_re_read_only_the_documents_read_by_ocr(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "letter.png").write_bytes(image_bytes(page_image(SCANNED_PAGE)))
    (corpus / "aral.txt").write_bytes(OTHER)
    update_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), lambda: embedder)
    report = update_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "index", ocr_languages="eng+rus"),
                          lambda: embedder)
    assert (report.changed, report.unchanged, report.ocr_pages) == (["letter.png"], 1, 1)


def _zip_bomb(members: dict[str, str], megabytes: int) -> bytes:
    """A small zip whose one XML part inflates to `megabytes` MB, beside the parts that name its format."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
        archive.writestr("content.xml", "<a>" + "<b/>" * (megabytes * 2**18) + "</a>")
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` × `height` pixels and holds almost none: a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + \
        chunk(b"IEND", b"")


def _pages(count: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_hostile_files_of_the_new_formats_are_refused_by_limit_and_the_rest_indexed(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = {
        "bomb.xlsx": _zip_bomb({"[Content_Types].xml": "<Types/>"}, 6),
        "bomb.pptx": _zip_bomb({"[Content_Types].xml": "<Types/>"}, 6),
        "bomb.odt": _zip_bomb({"mimetype": "application/vnd.oasis.opendocument.text"}, 6),
        "bomb.epub": _zip_bomb({"mimetype": "application/epub+zip"}, 6),
        "huge.png": _png_header(30_000, 30_000),
        "thick.pdf": _pages(10_000),
        "long.csv": b"Office,Cases\n" + b"Aktobe,47\n" * 5_000_000,
        "aral.txt": OTHER,
    }
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    report = update_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "index", max_file_mb=5), lambda: embedder)
    errors = {f["doc_id"]: f["error"] for f in report.failed}
    assert report.added == ["aral.txt"]
    for kind in ("XLSX", "PPTX", "ODT", "EPUB"):
        assert errors[f"bomb.{kind.lower()}"] == (f"{kind} unpacks to 6 MB (6 MB of XML), over the limit of 5 MB of "
                                                  "XML and 20 MB in all (CITEBOT_MAX_FILE_MB)")
    assert errors["huge.png"] == "the image is 30,000 × 30,000 pixels, over the 60,000,000 limit (CITEBOT_MAX_PIXELS)"
    assert errors["thick.pdf"] == "has 10,000 pages, over the 5,000 limit (CITEBOT_MAX_PAGES)"
    assert errors["long.csv"] == "file is 47.7 MB, over the 5 MB limit (CITEBOT_MAX_FILE_MB)"
    for name in files.keys() - {"long.csv", "aral.txt"}:
        (corpus / name).unlink()
    rows = update_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "rows", max_file_mb=60), lambda: embedder)
    assert rows.failed == [{"doc_id": "long.csv", "error": "has over 200,000 table rows, the limit (CITEBOT_MAX_ROWS)"}]
    assert rows.added == ["aral.txt"]


def test_ocr_past_its_time_is_left_out_with_its_reason_and_the_text_page_kept(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(mixed_pdf_bytes(TEXT_PAGE, SCANNED_PAGE))
    per_page = update_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "a", ocr_page_seconds=0.01),
                            lambda: embedder)
    assert per_page.added == ["report.pdf"] and per_page.notes == [
        {"doc_id": "report.pdf", "note": "1 scanned page(s) not read (page 2): OCR of a page passed 0.01 s "
                                         "(CITEBOT_OCR_PAGE_SECONDS)"}]
    per_file = update_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "b", ocr_file_seconds=0.01),
                            lambda: embedder)
    assert per_file.notes == [{"doc_id": "report.pdf", "note": "1 scanned page(s) not read (page 2): OCR of this "
                                                               "file passed 0.01 s (CITEBOT_OCR_FILE_SECONDS)"}]


def test_ocr_blank_lines_inside_a_paragraph_and_a_page_break_mid_sentence_are_closed():
    from index.ingest.clean import clean_text
    from index.ingest.formats.base import Section
    from index.ingest.pages import join, prepare

    first = ("12. Instructs its President to forward this resolution to the HR/VP, the\n\n"
             "Council and the governments of the Member States; welcomes the release of the Alga!\n"
             "opposition party leader; notes the long list of cases reported by monitors in\n\n"
             "2018 and 2019.\n\n"
             "having regard to its previous resolutions on Kazakhstan, in particular those of\n"
             "10 March 2016, of 18 April 2013, of 15 March 2012, and of 17 September 2009,\n\n"
             "having regard to the Enhanced Partnership and Cooperation Agreement, signed in the Asia-")
    second = "Europe Meeting of 2015, and to the Council conclusions of 22 June 2015 on it,"
    sections = prepare((Section(first, "page 1", ocr=True), Section(second, "page 2", ocr=True)))
    paragraphs = clean_text(join(sections)).split("\n\n")
    assert paragraphs == [
        "12. Instructs its President to forward this resolution to the HR/VP, the Council and the governments of the "
        "Member States; welcomes the release of the Alga! opposition party leader; notes the long list of cases "
        "reported by monitors in 2018 and 2019.",
        "having regard to its previous resolutions on Kazakhstan, in particular those of 10 March 2016, of 18 April "
        "2013, of 15 March 2012, and of 17 September 2009,",  # an item of its own, as in the text files
        "having regard to the Enhanced Partnership and Cooperation Agreement, signed in the Asia-Europe Meeting of "
        "2015, and to the Council conclusions of 22 June 2015 on it,"]
