"""CSV and TSV tables: each row a unit that carries its column names."""

from __future__ import annotations

import csv
import io

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section
from index.ingest.formats.tables import RowCounter, table_text
from index.ingest.formats.text import decode

FIELD_CHARS = 1_000_000  # one cell at most; csv's own default (131,072) refuses long free-text answers


def read(data: bytes, context: ReadContext) -> Extracted:
    text = decode(data)
    csv.field_size_limit(FIELD_CHARS)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if "\t" in text[:8192] else csv.excel
    try:
        body = table_text(csv.reader(io.StringIO(text, newline=""), dialect), RowCounter(context.limits.max_rows))
    except csv.Error as error:
        raise DocumentError(f"unreadable table ({error})") from None
    return Extracted((Section(body),))


FORMAT = Format("CSV and TSV tables", (".csv", ".tsv"), 1, read,
                "each row a unit that carries its column names (the delimiter is detected)")
