"""Word documents (python-docx): paragraphs and tables in the order they stand, tables as rows with names."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section, damaged
from index.ingest.formats.packed import check_unpacked_size
from index.ingest.formats.tables import RowCounter, table_text


def read(data: bytes, context: ReadContext) -> Extracted:
    import docx

    check_unpacked_size(data, context.limits.max_bytes, "DOCX")
    rows = RowCounter(context.limits.max_rows)
    try:
        document = docx.Document(io.BytesIO(data))
        props = document.core_properties  # parts with an unexpected root element fail here, not above
        created = props.created.date().isoformat() if props.created else ""
        text = "\n\n".join(_blocks(document, rows))
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # zipfile, lxml and python-docx each raise their own types for damaged files
        raise damaged("DOCX", error) from None
    return Extracted((Section(text),), {"title": props.title or "", "date": created})


def _blocks(document: Any, rows: RowCounter) -> Iterator[str]:
    from docx.table import Table

    for block in document.iter_inner_content():
        yield table_text(_cells(block), rows) if isinstance(block, Table) else block.text


def _cells(table: Any) -> Iterator[list[str]]:
    """Each row's cells; a cell merged across columns is listed once, not once per column it spans."""
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(cell.text)
        yield cells


FORMAT = Format("Word documents (DOCX)", (".docx",), 2, read,
                "paragraphs and tables in their order, tables as rows; title and creation date")
