"""Web pages: the main text (trafilatura), its tables as rows that carry their column names."""

from __future__ import annotations

from typing import Any

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section
from index.ingest.formats.tables import RowCounter, replace_html_tables
from index.ingest.formats.text import decode


def read(data: bytes, context: ReadContext) -> Extracted:
    import trafilatura

    html = decode(data)
    text = trafilatura.extract(_tables_as_rows(html, RowCounter(context.limits.max_rows)), include_comments=False,
                               include_tables=True, favor_precision=True)
    if not text:
        raise DocumentError("no main text found in the HTML")
    found = trafilatura.extract_metadata(html)
    meta = {}
    if found is not None:
        meta = {"title": found.title or "", "date": found.date or "", "source": found.url or ""}
    return Extracted((Section(text),), meta)


def _tables_as_rows(html: str, rows: RowCounter) -> Any:
    """The page with each table replaced by a paragraph per row; the page as it was if lxml cannot parse it."""
    import lxml.html
    from lxml import etree

    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return html
    replace_html_tables(tree, rows)
    return tree


FORMAT = Format("web pages (HTML)", (".html", ".htm"), 2, read,
                "the main text (trafilatura), menus and footers left out; tables as rows; the page's title, date and URL")
