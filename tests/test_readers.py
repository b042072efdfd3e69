"""Every supported format reads into clean text with its metadata; bad files are refused with a reason."""

from __future__ import annotations

import pytest

from index.ingest.readers import DocumentError, read_document
from samples import HTML_PAGE, docx_bytes, encrypted_pdf_bytes, pdf_bytes


def write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_text_file_front_matter_gives_title_date_and_source(tmp_path):
    path = write(tmp_path, "note.txt", "---\ntitle: A note\ndate: 2020-01-02\nsource: https://example.org/n\n---\n"
                 "The EU raised the cases of activists and journalists.\n")
    doc = read_document(path, "note.txt")
    assert (doc.title, doc.date, doc.source) == ("A note", "2020-01-02", "https://example.org/n")
    assert doc.text == "The EU raised the cases of activists and journalists."
    assert len(doc.content_hash) == 64


def test_a_huge_front_matter_title_or_date_is_cut_to_one_short_line(tmp_path):
    # Unbounded, the title filled the encoder's 256 tokens on every passage, so no passage's own words were read.
    path = write(tmp_path, "note.md", "---\ntitle: " + "Kazakhstan  " * 100_000 + "\ndate: " + "2020 " * 100_000
                 + "\n---\nThe EU raised the cases of activists and journalists.\n")
    doc = read_document(path, "note.md")
    assert len(doc.title) == len(doc.date) == 300 and doc.title.endswith("…") and "  " not in doc.title
    assert doc.text == "The EU raised the cases of activists and journalists."


def test_markdown_links_and_emphasis_become_plain_text(tmp_path):
    path = write(tmp_path, "odf-report.md", "During a **[mission](#)** to the European Parliament, ODF presented findings.\n")
    doc = read_document(path, "odf-report.md")
    assert doc.text == "During a mission to the European Parliament, ODF presented findings."
    assert doc.title == "Odf report"  # from the file name when the file names none


def test_html_main_text_is_kept_and_page_furniture_dropped(tmp_path):
    doc = read_document(write(tmp_path, "page.html", HTML_PAGE), "page.html")
    assert "158th out of 180 countries" in doc.text
    assert "media legislation adopted in December 2017" in doc.text
    assert "All news" not in doc.text and "Subscribe" not in doc.text and "Copyright" not in doc.text
    assert doc.title == "Press freedom in Kazakhstan"


def test_pdf_text_and_metadata_are_read(tmp_path):
    data = pdf_bytes(["Kazakhstan is ranked 158th out of 180 countries", "in the 2018 press freedom index."],
                     title="Resolution B8-0205/2019")
    doc = read_document(write(tmp_path, "resolution.pdf", data), "resolution.pdf")
    assert "158th out of 180 countries in the 2018 press freedom index." in doc.text
    assert doc.title == "Resolution B8-0205/2019"
    assert doc.date == "2019-03-14"


def test_docx_paragraphs_and_title_are_read(tmp_path):
    data = docx_bytes(["First paragraph about Zhanaozen.", "Second paragraph about torture."], title="Briefing")
    doc = read_document(write(tmp_path, "briefing.docx", data), "briefing.docx")
    assert doc.text == "First paragraph about Zhanaozen.\n\nSecond paragraph about torture."
    assert doc.title == "Briefing"


def test_legacy_encoding_is_decoded(tmp_path):
    path = write(tmp_path, "old.txt", "Caf\u00e9 r\u00e9sum\u00e9 \u2013 na\u00efve \u201cquotes\u201d.".encode("cp1252"))
    assert read_document(path, "old.txt").text == "Caf\u00e9 r\u00e9sum\u00e9 \u2013 na\u00efve \u201cquotes\u201d."


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n \t\n", "empty file"),
        ("binary.txt", bytes(range(256)) * 4, "binary content"),
        ("corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage \x00\x01", "unreadable PDF"),
        ("locked.pdf", None, "encrypted PDF"),
        ("corrupt.docx", b"PK\x03\x04 not really a zip archive", "unreadable DOCX"),
        ("menu.txt", b"Quick search\nAdvanced search\nAll news\n", "no readable text"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path, name, data, reason):
    path = write(tmp_path, name, encrypted_pdf_bytes() if data is None else data)
    with pytest.raises(DocumentError, match=reason):
        read_document(path, name)
