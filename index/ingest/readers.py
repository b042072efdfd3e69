"""Read a corpus file of any supported format into a Document, or say plainly why not."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

from index.ingest.clean import clean_text
from index.schema import Document

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
DEFAULT_MAX_BYTES = 50 * 2**20
DEFAULT_MAX_CHARS = 20 * 10**6
UNPACKED_FACTOR = 4  # a DOCX may unpack to this many times CITEBOT_MAX_FILE_MB in all (images included)
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
# A title is embedded with every passage of its document and shown with every citation, and a date is
# read with every passage: a megabyte-long one would crowd the passage out of the encoder's 256 tokens.
META_CHARS = 300


class DocumentError(Exception):
    """A file that cannot be indexed; the message says why, in a user's words."""


def read_document(path: Path, doc_id: str, max_bytes: int = DEFAULT_MAX_BYTES,
                  max_chars: int = DEFAULT_MAX_CHARS) -> Document:
    """Read, extract and clean one file; raise DocumentError for anything unreadable or over the limits."""
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(f"file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB limit")
    data = path.read_bytes()
    if not data.strip():
        raise DocumentError("empty file")
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        text, meta = _read_html(data)
    elif suffix == ".pdf":
        text, meta = _read_pdf(data, max_chars)
    elif suffix == ".docx":
        text, meta = _read_docx(data, max_bytes)
    elif suffix in SUPPORTED_SUFFIXES:
        text, meta = _split_front_matter(_decode(data))
    else:
        raise DocumentError(f"unsupported file type {suffix or '(none)'}")
    _check_text_size(len(text), max_chars)
    cleaned = clean_text(text)
    if not cleaned.strip():
        raise DocumentError("no readable text")
    meta = {key: _short(value) for key, value in meta.items()}
    return Document(
        doc_id=doc_id,
        title=meta.get("title") or _title_from_name(path),
        date=meta.get("date") or None,
        source=meta.get("source") or meta.get("url") or None,
        text=cleaned,
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def _short(value: str) -> str:
    """One line of at most META_CHARS characters."""
    value = " ".join(value.split())
    return value if len(value) <= META_CHARS else value[: META_CHARS - 1].rstrip() + "…"


def _check_text_size(chars: int, max_chars: int) -> None:
    """Refuse text past the limit before it is cleaned, split and embedded."""
    if chars > max_chars:
        raise DocumentError(f"yields over {max_chars / 10**6:g} million characters of text, the limit "
                            "(CITEBOT_MAX_TEXT_MB)")


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError("binary content in a text file")
    # Legacy exports are mostly cp1252; latin-1 decodes any bytes, so it is the last resort.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _split_front_matter(text: str) -> tuple[str, dict[str, str]]:
    """`---`-fenced `key: value` lines at the top of a text or Markdown file."""
    match = FRONT_MATTER.match(text)
    if not match:
        return text, {}
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return text[match.end() :], meta


def _read_html(data: bytes) -> tuple[str, dict[str, str]]:
    import trafilatura

    html = _decode(data)
    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=True)
    if not text:
        raise DocumentError("no main text found in the HTML")
    found = trafilatura.extract_metadata(html)
    meta = {}
    if found is not None:
        meta = {"title": found.title or "", "date": found.date or "", "source": found.url or ""}
    return text, meta


def _read_pdf(data: bytes, max_chars: int) -> tuple[str, dict[str, str]]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("encrypted PDF (needs a password)")
        pages, chars = [], 0
        for page in reader.pages:  # page by page, so a huge PDF stops at the limit, not after extracting it all
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            _check_text_size(chars, max_chars)
        info = reader.metadata or {}
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # a parser of damaged input can fail in any way; none may stop the build
        raise DocumentError(f"unreadable PDF ({error.__class__.__name__}: {error})") from None
    meta = {"title": str(info.get("/Title") or ""), "date": _pdf_date(str(info.get("/CreationDate") or ""))}
    return "\n\n".join(pages), meta


def _pdf_date(raw: str) -> str:
    match = re.match(r"D:(\d{4})(\d{2})?(\d{2})?", raw)
    return "-".join(part for part in (match.groups() if match else ()) if part)


def _read_docx(data: bytes, max_bytes: int) -> tuple[str, dict[str, str]]:
    import docx

    _check_unpacked_size(data, max_bytes)
    try:
        document = docx.Document(io.BytesIO(data))
        props = document.core_properties  # parts with an unexpected root element fail here, not above
        created = props.created.date().isoformat() if props.created else ""
        text = "\n\n".join(p.text for p in document.paragraphs)
    except MemoryError:
        raise
    except Exception as error:  # zipfile, lxml and python-docx each raise their own types for damaged files
        raise DocumentError(f"unreadable DOCX ({error.__class__.__name__})") from None
    return text, {"title": props.title or "", "date": created}


def _check_unpacked_size(data: bytes, max_bytes: int) -> None:
    """Refuse a zip that would unpack past the limits, before anything is unpacked.

    A 1.4 MB .docx unpacked to 400 MB of XML and its reader past 4.6 GB. zipfile never inflates a member
    beyond the size its header declares, so the declared sizes bound the work even when they lie.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError) as error:
        raise DocumentError(f"unreadable DOCX ({error.__class__.__name__})") from None
    xml = sum(m.file_size for m in members if m.filename.endswith((".xml", ".rels")))
    total = sum(m.file_size for m in members)
    if xml > max_bytes or total > UNPACKED_FACTOR * max_bytes:
        raise DocumentError(f"DOCX unpacks to {total / 2**20:.0f} MB ({xml / 2**20:.0f} MB of XML), over the "
                            f"limit of {max_bytes / 2**20:g} MB of XML and {UNPACKED_FACTOR * max_bytes / 2**20:g} MB "
                            "in all (CITEBOT_MAX_FILE_MB)")


def _title_from_name(path: Path) -> str:
    stem = path.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # a name that is not UTF-8
    words = re.sub(r"[_-]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path.name
