"""PowerPoint slides (python-pptx): each slide's title, text, tables and speaker notes, as "slide N"."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section, damaged
from index.ingest.formats.packed import check_unpacked_size
from index.ingest.formats.tables import RowCounter, table_text


def read(data: bytes, context: ReadContext) -> Extracted:
    from pptx import Presentation

    limits = context.limits
    check_unpacked_size(data, limits.max_bytes, "PPTX")
    rows = RowCounter(limits.max_rows)
    try:
        deck = Presentation(io.BytesIO(data))
        slides = list(deck.slides)
        if len(slides) > limits.max_pages:
            raise DocumentError(f"has {len(slides):,} slides, over the {limits.max_pages:,} limit (CITEBOT_MAX_PAGES)")
        sections = tuple(Section(_slide_text(slide, rows), f"slide {number}") for number, slide in enumerate(slides, 1))
        title = deck.core_properties.title or ""
        created = deck.core_properties.created
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # zipfile, lxml and python-pptx each raise their own types for damaged files
        raise damaged("PPTX", error) from None
    return Extracted(sections, {"title": title, "date": created.date().isoformat() if created else ""})


def _slide_text(slide: Any, rows: RowCounter) -> str:
    parts = list(_shape_texts(slide.shapes, rows))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            parts.append(f"Speaker notes: {notes.text.strip()}")
    return "\n\n".join(part for part in parts if part.strip())


def _shape_texts(shapes: Any, rows: RowCounter) -> Iterator[str]:
    """Text of every shape, the title first and groups opened; a slide's reading order is top to bottom."""
    title = getattr(shapes, "title", None)  # a group's shapes have no title
    title_id = title.shape_id if title is not None else None
    ordered = sorted(shapes, key=lambda s: (s.shape_id != title_id, s.top or 0, s.left or 0))
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in ordered:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes, rows)
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield table_text(([cell.text for cell in row.cells] for row in shape.table.rows), rows)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield "\n".join(paragraph.text for paragraph in shape.text_frame.paragraphs)


FORMAT = Format("PowerPoint slides", (".pptx",), 1, read,
                "each slide's title, text and tables (as rows), and its speaker notes; cited by slide")
