"""E-books (EbookLib): the chapters in reading order, their tables as rows with names, as "chapter N"."""

from __future__ import annotations

import io
from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section, damaged
from index.ingest.formats.packed import check_unpacked_size
from index.ingest.formats.tables import RowCounter, replace_html_tables

BLOCKS = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt", "tr", "br",
          "section", "article")


def read(data: bytes, context: ReadContext) -> Extracted:
    import ebooklib
    from ebooklib import epub

    check_unpacked_size(data, context.limits.max_bytes, "EPUB")
    rows = RowCounter(context.limits.max_rows)
    try:
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
        chapters = [book.get_item_with_id(item_id) for item_id, _ in book.spine]
        texts = [_chapter_text(item.get_content(), rows) for item in chapters
                 if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT]
        title = next(iter(book.get_metadata("DC", "title")), ("",))[0]
        date = next(iter(book.get_metadata("DC", "date")), ("",))[0]
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # zipfile, lxml and EbookLib each raise their own types for damaged files
        raise damaged("EPUB", error) from None
    sections = tuple(Section(text, f"chapter {number}") for number, text in enumerate(texts, 1) if text.strip())
    return Extracted(sections, {"title": title or "", "date": (date or "")[:10]})


def _chapter_text(content: bytes, rows: RowCounter) -> str:
    import lxml.html

    if not content.strip():
        return ""
    tree = lxml.html.document_fromstring(content)
    replace_html_tables(tree, rows)
    for node in list(tree.iter("script", "style")):
        node.drop_tree()
    for node in tree.iter(*BLOCKS):  # a block ends a paragraph: text_content() alone runs them together
        node.tail = "\n\n" + (node.tail or "")
    body = tree.find("body")
    return (body if body is not None else tree).text_content()


FORMAT = Format("e-books (EPUB)", (".epub",), 1, read,
                "the chapters in reading order, tables as rows; title and date; cited by chapter")
