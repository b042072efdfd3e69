"""Plain text and Markdown, with an optional `---`-fenced front matter of `key: value` lines."""

from __future__ import annotations

import re

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section

FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)


def read(data: bytes, context: ReadContext) -> Extracted:
    text, meta = split_front_matter(decode(data))
    return Extracted((Section(text),), meta)


def decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError("binary content in a text file")
    # Legacy exports are mostly cp1252; latin-1 decodes any bytes, so it is the last resort.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def split_front_matter(text: str) -> tuple[str, dict[str, str]]:
    match = FRONT_MATTER.match(text)
    if not match:
        return text, {}
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return text[match.end() :], meta


FORMAT = Format("plain text and Markdown", (".txt", ".md", ".markdown"), 1, read,
                "the text; title, date and source from a `---` front-matter block; Markdown links and emphasis as plain text")
