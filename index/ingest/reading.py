"""Read corpus files in a worker process that is ended when one file takes too long or too much memory.

A parser fed hostile bytes can loop or balloon: a .docx bomb took its reader past 4.6 GB and ran for
minutes, holding the build lock. In a process of its own, with its address space capped, such a file is
stopped at its time budget, reported, and the build goes on with the next file in a fresh worker.
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

# Unread is defined outside this module: the worker runs it as __main__, where pickled classes are not found.
from index.ingest.formats.base import DocumentError, Progress, ReadLimits, Unread
from index.ingest.readers import read_document
from index.schema import Document
from index.settings import Settings
from index.store.files import error_line

MB = 2**20
# What the worker sends between a file and its outcome, as OCR starts a page and when it has read it.
OCR_STARTS, PAGE_READ = "OCR starts a page", "page read by OCR"
OCR_MARGIN = 5.0  # seconds past a page's OCR budget before the worker is taken for stuck
# What the worker inherits of the environment: how to run Python and its numeric libraries, nothing else. The bot
# token, the database URL and the LLM key stay in the parent (a parser exploited by a hostile file finds none).
WORKER_ENVIRONMENT = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_", "TZ", "TMPDIR", "TEMP", "TMP", "PYTHONPATH",
                      "PYTHONHOME", "PYTHONHASHSEED", "VIRTUAL_ENV", "OPENBLAS_", "OMP_", "MKL_", "SYSTEMROOT")


def read_files(jobs: Sequence[tuple[Path, str]], limits: ReadLimits,
               progress: Callable[[], None] | None = None) -> list[Document | Unread]:
    """For each (path, doc id), its Document or why it could not be read, in order; `progress` is called for
    each page read by OCR."""
    outcomes: list[Document | Unread] = []
    worker: _Worker | None = None
    try:
        for path, doc_id in jobs:
            worker = worker or _Worker(limits)
            outcome = worker.read(path, doc_id, progress)
            if worker.ended:
                worker = None
            outcomes.append(outcome)
    finally:
        if worker is not None:
            worker.close()
    return outcomes


def read_one(path: Path, doc_id: str, limits: ReadLimits, progress: Progress | None = None) -> Document | Unread:
    """One file read in this process: its Document or why not (what the worker runs for each file)."""
    try:
        return read_document(path, doc_id, limits, progress)
    except DocumentError as error:
        return Unread(str(error), error.needed_ocr)
    except MemoryError:
        return Unread(f"needed more than {limits.memory_bytes / MB:g} MB of memory to read (CITEBOT_READ_MEMORY_MB)")
    except OSError as error:
        return Unread(f"cannot read file ({error.strerror or error})")
    except Exception as error:  # noqa: BLE001 - one file a parser chokes on must not stop the build
        return Unread(f"could not be processed ({error_line(error)})")


class PageBar:
    """A progress bar that appears with the first page OCR reads: a build without scans shows none."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._bar = None

    def page(self) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(desc=self._label, unit="page", leave=False)
        self._bar.update()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def read_limits(settings: Settings) -> ReadLimits:
    """What reading one file may cost, from the settings."""
    return ReadLimits(max_bytes=int(settings.max_file_mb * 2**20), max_chars=int(settings.max_text_mb * 10**6),
                      seconds=settings.file_seconds, memory_bytes=settings.read_memory_mb * 2**20,
                      max_pages=settings.max_pages, max_rows=settings.max_rows, max_pixels=settings.max_pixels,
                      ocr_languages=settings.ocr_languages, ocr_page_seconds=settings.ocr_page_seconds,
                      ocr_file_seconds=settings.ocr_file_seconds)


class _Worker:
    """One reader process, fed a file at a time over a pipe."""

    def __init__(self, limits: ReadLimits) -> None:
        # A fresh interpreter, not multiprocessing: a fork of the bot (threads beside the event loop) could
        # deadlock, and spawn or forkserver re-run the caller's main script in the child.
        self._limits = limits
        self._process = subprocess.Popen([sys.executable, "-m", "index.ingest.reading", str(limits.memory_bytes)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=worker_environment())
        self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._receive = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self.ended = False

    def read(self, path: Path, doc_id: str, progress: Callable[[], None] | None = None) -> Document | Unread:
        # OCR's time is its own (CITEBOT_OCR_PAGE_SECONDS, kept inside the worker): while a page is read by OCR
        # the file's budget waits, and starts afresh after it.
        limits = self._limits
        deadline = time.monotonic() + limits.seconds
        try:
            self._send.send((path, doc_id, limits))
            while self._receive.poll(max(0.0, deadline - time.monotonic())):
                message = self._receive.recv()
                if message == OCR_STARTS:
                    deadline = time.monotonic() + limits.ocr_page_seconds + OCR_MARGIN
                elif message == PAGE_READ:
                    deadline = time.monotonic() + limits.seconds
                    if progress is not None:
                        progress()
                else:
                    return message
        except (EOFError, OSError):
            self.close()
            return Unread(f"the reader stopped while reading it (exit code {self._process.returncode})")
        self.close()
        return Unread(f"took longer than {self._limits.seconds:g} s to read; stopped (CITEBOT_FILE_SECONDS)")

    def close(self) -> None:
        self.ended = True
        self._process.kill()
        self._process.wait()
        for end in (self._send, self._receive, self._process.stdin, self._process.stdout):
            end.close()


def worker_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items()
            if any(name == kept or (kept.endswith("_") and name.startswith(kept)) for kept in WORKER_ENVIRONMENT)}


def _serve(memory_bytes: int) -> None:
    """The worker: cap its own memory, then read what it is sent until the pipe closes."""
    receive, send = Connection(0, writable=False), Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the replies
    logging.basicConfig(level=logging.ERROR)  # pypdf's warnings on damaged files: the build reports them once
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            path, doc_id, limits = receive.recv()
        except EOFError:
            return
        send.send(read_one(path, doc_id, limits, lambda done: send.send(PAGE_READ if done else OCR_STARTS)))


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
