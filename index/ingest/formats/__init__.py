"""The registry of document formats: one module each, listed once here.

`SUPPORTED_SUFFIXES`, the bot's upload check and the README's format list all come from `FORMATS`.
"""

from __future__ import annotations

from index.ingest.formats import delimited, docx, epub, html, image, odt, pdf, pptx, rtf, text, xlsx
from index.ingest.formats.base import DocumentError, Format, ReadLimits

FORMATS: tuple[Format, ...] = (text.FORMAT, html.FORMAT, pdf.FORMAT, docx.FORMAT, odt.FORMAT, rtf.FORMAT,
                               epub.FORMAT, pptx.FORMAT, xlsx.FORMAT, delimited.FORMAT, image.FORMAT)
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(suffix for found in FORMATS for suffix in found.suffixes)
_BY_SUFFIX = {suffix: found for found in FORMATS for suffix in found.suffixes}

__all__ = ["FORMATS", "SUPPORTED_SUFFIXES", "DocumentError", "Format", "ReadLimits", "format_for", "format_table", "signature_for"]


def format_for(suffix: str) -> Format | None:
    return _BY_SUFFIX.get(suffix.lower())


def signature_for(doc_id: str) -> str:
    """The reader a document of this name is read with today ("pdf/2"); "" for a suffix no format claims."""
    suffix = "." + doc_id.rsplit(".", 1)[-1].lower() if "." in doc_id.rsplit("/", 1)[-1] else ""
    found = format_for(suffix)
    return found.signature if found else ""


def format_table() -> str:
    """The README's table of formats (a test holds the README to it)."""
    rows = [f"| {found.name} | {', '.join(f'`{s}`' for s in found.suffixes)} | {found.what} |" for found in FORMATS]
    return "\n".join(["| format | files | what is read |", "|---|---|---|", *rows])
