"""Excel workbooks (openpyxl): each sheet, each row a unit that carries its column names, as "sheet NAME"."""

from __future__ import annotations

import io

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section, damaged
from index.ingest.formats.packed import check_unpacked_size
from index.ingest.formats.tables import RowCounter, table_text


def read(data: bytes, context: ReadContext) -> Extracted:
    from openpyxl import load_workbook

    limits = context.limits
    check_unpacked_size(data, limits.max_bytes, "XLSX")
    rows = RowCounter(limits.max_rows)
    try:
        # read_only streams rows instead of building every cell; data_only gives formulas' saved values.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sections = []
        for sheet in book.worksheets:
            body = table_text(sheet.iter_rows(values_only=True), rows)
            if body:
                sections.append(Section(f"{sheet.title}\n\n{body}", f"sheet {sheet.title}"))
        title = book.properties.title or ""
        created = book.properties.created
        book.close()
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # zipfile, lxml and openpyxl each raise their own types for damaged files
        raise damaged("XLSX", error) from None
    return Extracted(tuple(sections), {"title": title, "date": created.date().isoformat() if created else ""})


FORMAT = Format("Excel workbooks", (".xlsx",), 1, read,
                "each sheet, each row a unit that carries its column names; saved values of formulas; cited by sheet")
