"""What every document format provides, and what its reader gets and gives back.

One module per format (index.ingest.formats.*) defines one `Format`; the registry in
index.ingest.formats lists them, so a new format is one file and one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MB = 2**20


class DocumentError(Exception):
    """A file that cannot be indexed; the message says why, in a user's words."""

    def __init__(self, message: str, needed_ocr: bool = False) -> None:
        super().__init__(message)
        self.needed_ocr = needed_ocr  # it may read once OCR is installed or set otherwise: try it again then


@dataclass(frozen=True)
class ReadLimits:
    """What one file may cost to read; each is a setting (index.settings), named in the message when hit."""

    max_bytes: int = 50 * MB  # of the file as stored (CITEBOT_MAX_FILE_MB); a zip may unpack to a few times this
    max_chars: int = 20 * 10**6  # of text extracted from it (CITEBOT_MAX_TEXT_MB)
    seconds: float = 60.0  # to read, extract and clean it, OCR apart (CITEBOT_FILE_SECONDS)
    memory_bytes: int = 2048 * MB  # address space of the worker reading it (CITEBOT_READ_MEMORY_MB)
    max_pages: int = 5000  # pages of a PDF, slides of a deck (CITEBOT_MAX_PAGES)
    max_rows: int = 200_000  # rows of all sheets of a spreadsheet or CSV together (CITEBOT_MAX_ROWS)
    max_pixels: int = 60_000_000  # of an image, or of a page rendered for OCR (CITEBOT_MAX_PIXELS)
    ocr_languages: str = "eng"  # Tesseract's language codes joined by "+" (CITEBOT_OCR_LANGUAGES)
    ocr_page_seconds: float = 60.0  # OCR of one page (CITEBOT_OCR_PAGE_SECONDS)
    ocr_file_seconds: float = 1800.0  # OCR of all pages of one file (CITEBOT_OCR_FILE_SECONDS)


@dataclass(frozen=True)
class Section:
    """A stretch of a document's text with where it stands in the file: a page, a slide, a sheet."""

    text: str
    place: str | None = None  # "page 3", "slide 2", "sheet Cases"; None: the file has no such parts
    ocr: bool = False  # the text came from a picture of the page


@dataclass(frozen=True)
class Extracted:
    """What a format's reader found in a file."""

    sections: tuple[Section, ...]
    meta: dict[str, str] = field(default_factory=dict)  # title, date, source, when the file says
    needed_ocr: int = 0  # pages or images that have no text layer
    notes: tuple[str, ...] = ()  # what was left out and why, for the build report (the rest is indexed)


@dataclass(frozen=True)
class Unread:
    """Why a file could not be read, in a user's words; `needed_ocr`: it may read once OCR is set otherwise."""

    reason: str
    needed_ocr: bool = False


Progress = Callable[[bool], None]  # called as OCR starts a page (False) and when it has read it (True)


@dataclass(frozen=True)
class ReadContext:
    limits: ReadLimits
    progress: Progress | None = None

    def ocr_starts(self) -> None:
        if self.progress is not None:
            self.progress(False)

    def page_read(self) -> None:
        if self.progress is not None:
            self.progress(True)


@dataclass(frozen=True)
class Format:
    """A document format: the suffixes it claims and how its bytes become text.

    `version` is recorded with every document read; a change of it re-reads that format's files on the next
    build (and only those), so a better reader reaches documents already indexed.
    """

    name: str  # as the README and the bot's messages name it
    suffixes: tuple[str, ...]
    version: int
    read: Callable[[bytes, ReadContext], Extracted]
    what: str = ""  # what is read of such a file, and what a citation names (the README's table)

    @property
    def signature(self) -> str:
        return f"{self.suffixes[0].lstrip('.')}/{self.version}"


def check_text_size(chars: int, max_chars: int) -> None:
    """Refuse text past the limit before it is cleaned, split and embedded."""
    if chars > max_chars:
        raise DocumentError(f"yields over {max_chars / 10**6:g} million characters of text, the limit "
                            "(CITEBOT_MAX_TEXT_MB)")


def damaged(kind: str, error: Exception) -> DocumentError:
    """The one message for a file its parser rejects (each library raises its own types for damaged input)."""
    return DocumentError(f"unreadable {kind} ({error.__class__.__name__})")
