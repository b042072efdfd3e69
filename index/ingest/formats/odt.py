"""OpenDocument text (odfpy): headings, paragraphs, lists and tables in order."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section, damaged
from index.ingest.formats.packed import check_unpacked_size
from index.ingest.formats.tables import RowCounter, table_text

TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
DC = "http://purl.org/dc/elements/1.1/"
META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"


def read(data: bytes, context: ReadContext) -> Extracted:
    from odf.opendocument import load

    check_unpacked_size(data, context.limits.max_bytes, "ODT")
    rows = RowCounter(context.limits.max_rows)
    try:
        document = load(io.BytesIO(data))
        text = "\n\n".join(block for block in _blocks(document.text, rows) if block.strip())
        meta = {_meta_key(node.qname): _text(node) for node in document.meta.childNodes}
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # zipfile, xml.sax and odfpy each raise their own types for damaged files
        raise damaged("ODT", error) from None
    return Extracted((Section(text),), {"title": meta.get("title", ""), "date": meta.get("date", "")[:10]})


def _blocks(node: Any, rows: RowCounter) -> Iterator[str]:
    for child in node.childNodes:
        name = getattr(child, "qname", None)
        if name in ((TEXT, "p"), (TEXT, "h")):
            yield _text(child)
        elif name == (TABLE, "table"):
            yield table_text(_cells(child), rows)
        elif name is not None:  # lists, sections, frames: their paragraphs
            yield from _blocks(child, rows)


def _cells(table: Any) -> Iterator[list[str]]:
    from odf.table import TableRow

    for row in table.getElementsByType(TableRow):
        yield [_text(cell) for cell in row.childNodes if getattr(cell, "qname", None) == (TABLE, "table-cell")]


def _text(node: Any) -> str:
    """A node's text, spaces (text:s), tabs and line breaks included."""
    from odf import teletype

    return teletype.extractText(node)


def _meta_key(qname: tuple[str, str]) -> str:
    namespace, name = qname
    return {(DC, "title"): "title", (DC, "date"): "date", (META, "creation-date"): "date"}.get((namespace, name), name)


FORMAT = Format("OpenDocument text (ODT)", (".odt",), 1, read,
                "headings, paragraphs, lists and tables in their order, tables as rows; title and date")
