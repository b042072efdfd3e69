"""Rich Text Format (striprtf)."""

from __future__ import annotations

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section


def read(data: bytes, context: ReadContext) -> Extracted:
    from striprtf.striprtf import rtf_to_text

    if not data.lstrip().startswith(b"{\\rtf"):
        raise DocumentError("unreadable RTF (no {\\rtf header)")
    try:
        text = rtf_to_text(data.decode("latin-1"), errors="replace")  # \'xx escapes carry the real code page
    except (ValueError, IndexError, LookupError) as error:
        raise DocumentError(f"unreadable RTF ({error.__class__.__name__})") from None
    return Extracted((Section(text),))


FORMAT = Format("Rich Text Format", (".rtf",), 1, read, "the text")
