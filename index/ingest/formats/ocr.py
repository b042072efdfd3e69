"""Text from pictures of pages, by Tesseract (the `tesseract` program: Debian's tesseract-ocr).

The program, not a binding: it installs from apt with its language data, runs each page in a process of its
own that a timeout can end, and needs no compiler. Pages are handed over as PNG on stdin.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
import time
from typing import Any

from index.ingest.formats.base import ReadContext

INSTALL = "apt install tesseract-ocr (and tesseract-ocr-LANG for each of CITEBOT_OCR_LANGUAGES)"
DPI = 300  # Tesseract reads body text best at 300 dpi; fewer when the page would pass CITEBOT_MAX_PIXELS


@functools.cache
def engine() -> str | None:
    """Tesseract's version ("5.3.0"), or None where it is not installed."""
    program = shutil.which("tesseract")
    if program is None:
        return None
    try:
        found = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    words = (found.stdout or found.stderr).split()
    return words[1] if len(words) > 1 and found.returncode == 0 else None


@functools.cache
def installed_languages() -> frozenset[str]:
    try:
        found = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in found.stdout.splitlines()[1:] if line.strip())


def signature(languages: str) -> str:
    """What OCR reads with here; a document read by OCR is read again when this changes (say, once installed)."""
    version = engine()
    return f"tesseract {version} {languages}" if version else "no OCR engine"


def missing_languages(languages: str) -> list[str]:
    return [code for code in languages.split("+") if code and code not in installed_languages()]


class PageReader:
    """OCR of one file's pages within its time budgets; what it could not read becomes a note."""

    def __init__(self, context: ReadContext) -> None:
        self._context = context
        self._limits = context.limits
        self._deadline = time.monotonic() + self._limits.ocr_file_seconds
        self.notes: list[str] = []
        self.pages_read = 0
        self.needed = 0
        self._unreadable: list[str] = []  # places of pages left unread, with the reason in self._why
        self._why = ""

    @property
    def available(self) -> bool:
        return engine() is not None and not missing_languages(self._limits.ocr_languages)

    def read(self, image: Any, place: str, dpi: int = DPI) -> str:
        """The page's text by OCR; "" (and a note) when OCR is missing, too slow or out of time."""
        self.needed += 1
        if not self.available:
            return self._skip(place, self._missing())
        left = self._deadline - time.monotonic()
        file_over = f"OCR of this file passed {self._limits.ocr_file_seconds:g} s (CITEBOT_OCR_FILE_SECONDS)"
        if left <= 0:
            return self._skip(place, file_over)
        seconds = min(self._limits.ocr_page_seconds, left)
        self._context.ocr_starts()
        try:
            text = _tesseract(image, self._limits.ocr_languages, seconds, dpi)
        except subprocess.TimeoutExpired:
            page_over = f"OCR of a page passed {seconds:g} s (CITEBOT_OCR_PAGE_SECONDS)"
            return self._skip(place, page_over if seconds == self._limits.ocr_page_seconds else file_over)
        except (OSError, ValueError) as error:  # an image mode PNG cannot hold, Tesseract gone since the check
            return self._skip(place, f"OCR could not read it ({error.__class__.__name__})")
        self.pages_read += 1
        self._context.page_read()
        return text

    def finish(self) -> list[str]:
        """The notes: which pages were left unread, and why."""
        if self._unreadable:
            shown = ", ".join(self._unreadable[:5]) + (f" and {len(self._unreadable) - 5} more"
                                                       if len(self._unreadable) > 5 else "")
            self.notes.append(f"{len(self._unreadable)} scanned page(s) not read ({shown}): {self._why}")
        return self.notes

    def _skip(self, place: str, why: str) -> str:
        self._unreadable.append(place)
        self._why = self._why or why
        return ""

    def _missing(self) -> str:
        if engine() is None:
            return f"they need OCR, which is not installed ({INSTALL})"
        languages = ", ".join(missing_languages(self._limits.ocr_languages))
        return f"OCR has no data for {languages} (apt install tesseract-ocr-<language>, or set CITEBOT_OCR_LANGUAGES)"


def _tesseract(image: Any, languages: str, seconds: float, dpi: int) -> str:
    png = io.BytesIO()
    image.convert("L").save(png, format="PNG")
    # One thread: on 2 cores Tesseract's OpenMP threads only contend with the build.
    found = subprocess.run(["tesseract", "stdin", "stdout", "-l", languages, "--dpi", str(dpi)],
                           input=png.getvalue(), capture_output=True, timeout=seconds,
                           env={"OMP_THREAD_LIMIT": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    return found.stdout.decode("utf-8", "replace")

