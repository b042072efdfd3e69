"""Read a corpus file of any supported format into a Document, or say plainly why not.

Each format's own reader (index.ingest.formats) turns bytes into sections of text with their places;
here every format gets the same limits, the same cleaning and the same record.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from index.ingest.clean import clean_text
from index.ingest.formats import SUPPORTED_SUFFIXES, format_for
from index.ingest.formats.base import DocumentError, Progress, ReadContext, ReadLimits, check_text_size
from index.ingest.formats.ocr import signature as ocr_signature
from index.ingest.pages import join, locate, prepare
from index.schema import Document

__all__ = ["SUPPORTED_SUFFIXES", "DocumentError", "ReadLimits", "read_document"]

# A title is embedded with every passage of its document and shown with every citation, and a date is
# read with every passage: a megabyte-long one would crowd the passage out of the encoder's 256 tokens.
META_CHARS = 300


def read_document(path: Path, doc_id: str, limits: ReadLimits | None = None,
                  progress: Progress | None = None) -> Document:
    """Read, extract and clean one file; raise DocumentError for anything unreadable or over the limits."""
    limits = limits or ReadLimits()
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise DocumentError(f"file is {size / 2**20:.1f} MB, over the {limits.max_bytes / 2**20:g} MB limit "
                            "(CITEBOT_MAX_FILE_MB)")
    found = format_for(path.suffix)
    if found is None:
        raise DocumentError(f"unsupported file type {path.suffix.lower() or '(none)'}")
    data = path.read_bytes()
    if not data.strip():
        raise DocumentError("empty file")
    extracted = found.read(data, ReadContext(limits, progress))
    check_text_size(sum(len(section.text) for section in extracted.sections), limits.max_chars)
    sections = prepare(extracted.sections)
    cleaned = clean_text(join(sections))
    if not cleaned.strip():
        reason = "no readable text" + (f"; {extracted.notes[0]}" if extracted.notes else "")
        raise DocumentError(reason, needed_ocr=extracted.needed_ocr > 0)
    meta = {key: _short(value) for key, value in extracted.meta.items()}
    return Document(
        doc_id=doc_id,
        title=meta.get("title") or _title_from_name(path),
        date=meta.get("date") or None,
        source=meta.get("source") or meta.get("url") or None,
        text=cleaned,
        content_hash=hashlib.sha256(data).hexdigest(),
        places=locate(sections, cleaned),
        reader=found.signature,
        ocr=ocr_signature(limits.ocr_languages) if extracted.needed_ocr else None,
        ocr_pages=sum(1 for section in sections if section.ocr),
        notes=extracted.notes,
    )


def _short(value: str) -> str:
    """One line of at most META_CHARS characters."""
    value = " ".join(value.split())
    return value if len(value) <= META_CHARS else value[: META_CHARS - 1].rstrip() + "…"


def _title_from_name(path: Path) -> str:
    stem = path.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # a name that is not UTF-8
    words = re.sub(r"[_-]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path.name
