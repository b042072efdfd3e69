"""Zip-based formats (DOCX, PPTX, XLSX, ODT, EPUB): refuse a bomb before anything is unpacked."""

from __future__ import annotations

import io
import zipfile

from index.ingest.formats.base import MB, DocumentError, damaged

UNPACKED_FACTOR = 4  # a file may unpack to this many times CITEBOT_MAX_FILE_MB in all (images included)
MARKUP = (".xml", ".rels", ".html", ".xhtml", ".htm", ".opf", ".ncx")


def check_unpacked_size(data: bytes, max_bytes: int, kind: str) -> None:
    """Refuse a zip whose declared sizes pass the limits: at most `max_bytes` of markup, four times that in all.

    A 1.4 MB .docx unpacked to 400 MB of XML and its reader past 4.6 GB. zipfile never inflates a member
    beyond the size its header declares, so the declared sizes bound the work even when they lie.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception as error:  # noqa: BLE001 - zipfile raises NotImplementedError for a damaged version field, and more
        raise damaged(kind, error) from None
    markup = sum(m.file_size for m in members if m.filename.lower().endswith(MARKUP))
    total = sum(m.file_size for m in members)
    if markup > max_bytes or total > UNPACKED_FACTOR * max_bytes:
        raise DocumentError(f"{kind} unpacks to {total / MB:.0f} MB ({markup / MB:.0f} MB of XML), over the "
                            f"limit of {max_bytes / MB:g} MB of XML and {UNPACKED_FACTOR * max_bytes / MB:g} MB "
                            "in all (CITEBOT_MAX_FILE_MB)")
