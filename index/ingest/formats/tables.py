"""Tables of every format as units that read alone: "Office: Aktobe; Cases registered: 47."

An answer quotes one unit; a row quoted without its column names ("Aktobe; 47") says nothing, so each row
carries them. Spreadsheets, CSV and the tables inside DOCX, HTML, ODT and slides all come through here.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from typing import Any

from index.ingest.formats.base import DocumentError

CLOSING = re.compile(r"[.!?:;]$")
NUMBER = re.compile(r"^[\d\s.,%+\-−()$€£₸]*$")


class RowCounter:
    """Rows read from one file, all its tables together, against CITEBOT_MAX_ROWS."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.count = 0

    def add(self) -> None:
        self.count += 1
        if self.count > self.max_rows:
            raise DocumentError(f"has over {self.max_rows:,} table rows, the limit (CITEBOT_MAX_ROWS)")


def cell_text(value: object) -> str:
    """A cell as a person reads it: 47 not 47.0, a date without midnight, one line."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime.datetime) and value.time() == datetime.time():
        value = value.date()
    if isinstance(value, (datetime.date, datetime.time)):
        value = value.isoformat()
    return " ".join(str(value).split())


def table_text(rows: Iterable[Sequence[object]], counter: RowCounter) -> str:
    """The table's rows as paragraphs; the first row names the columns when it looks like a header row."""
    header: list[str] | None = None
    units: list[str] = []
    for raw in rows:
        counter.add()
        cells = _merged(cell_text(value) for value in raw)
        if not any(cells):
            continue
        if header is None and not units and _is_header(cells):
            header = cells
            continue
        units.append(row_text(header, cells))
    if header is not None and not units:  # a header alone is a table's only row: keep it as text
        units.append("; ".join(cell for cell in header if cell))
    return "\n\n".join(units)


def row_text(header: Sequence[str] | None, cells: Sequence[str]) -> str:
    names = list(header or ())
    parts = []
    for at, cell in enumerate(cells):
        if not cell:
            continue
        name = names[at] if at < len(names) else ""
        parts.append(f"{name}: {cell}" if name and name != cell else cell)
    text = "; ".join(parts)
    # Closing punctuation makes the row a unit of its own, never a heading folded into the next row.
    return text if CLOSING.search(text) else f"{text}."


def _merged(cells: Iterable[str]) -> list[str]:
    """Trailing empty cells dropped (a sheet's used range often runs wide)."""
    found = list(cells)
    while found and not found[-1]:
        found.pop()
    return found


def _is_header(cells: Sequence[str]) -> bool:
    filled = [cell for cell in cells if cell]
    return len(filled) >= 2 and len(filled) == len(cells) and not any(NUMBER.match(cell) for cell in filled) \
        and len(set(filled)) == len(filled) and all(len(cell) <= 80 for cell in filled)


def replace_html_tables(tree: Any, counter: RowCounter) -> None:
    """Each table of an lxml HTML tree replaced by a paragraph (<p>) per row, innermost tables first."""
    from lxml import etree

    for table in reversed(list(tree.iter("table"))):
        body = table_text(_html_cells(table), counter)
        replacement = etree.Element("div")
        for unit in body.split("\n\n") if body else ():
            etree.SubElement(replacement, "p").text = unit
        replacement.tail = table.tail
        table.getparent().replace(table, replacement)


def _html_cells(table: Any) -> list[list[str]]:
    return [[" ".join(cell.text_content().split()) for cell in row.xpath("./th|./td")]
            for row in table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")]
