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
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from index.ingest.readers import DocumentError, read_document
from index.schema import Document
from index.store.files import error_line

MB = 2**20
# What the worker inherits of the environment: how to run Python and its numeric libraries, nothing else. The bot
# token, the database URL and the LLM key stay in the parent (a parser exploited by a hostile file finds none).
WORKER_ENVIRONMENT = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_", "TZ", "TMPDIR", "TEMP", "TMP", "PYTHONPATH",
                      "PYTHONHOME", "PYTHONHASHSEED", "VIRTUAL_ENV", "OPENBLAS_", "OMP_", "MKL_", "SYSTEMROOT")


@dataclass(frozen=True)
class ReadLimits:
    """What one file may cost to read; each is a setting (index.settings)."""

    max_bytes: int  # of the file as stored (CITEBOT_MAX_FILE_MB)
    max_chars: int  # of text extracted from it (CITEBOT_MAX_TEXT_MB)
    seconds: float  # to read, extract and clean it (CITEBOT_FILE_SECONDS)
    memory_bytes: int  # address space of the worker reading it (CITEBOT_READ_MEMORY_MB)


def read_files(jobs: Sequence[tuple[Path, str]], limits: ReadLimits) -> list[Document | str]:
    """For each (path, doc id), its Document or a one-line reason it could not be read, in order."""
    outcomes: list[Document | str] = []
    worker: _Worker | None = None
    try:
        for path, doc_id in jobs:
            worker = worker or _Worker(limits)
            outcome = worker.read(path, doc_id)
            if worker.ended:
                worker = None
            outcomes.append(outcome)
    finally:
        if worker is not None:
            worker.close()
    return outcomes


def read_one(path: Path, doc_id: str, limits: ReadLimits) -> Document | str:
    """One file read in this process: its Document or why not (what the worker runs for each file)."""
    try:
        return read_document(path, doc_id, limits.max_bytes, limits.max_chars)
    except DocumentError as error:
        return str(error)
    except MemoryError:
        return f"needed more than {limits.memory_bytes / MB:g} MB of memory to read (CITEBOT_READ_MEMORY_MB)"
    except OSError as error:
        return f"cannot read file ({error.strerror or error})"
    except Exception as error:  # noqa: BLE001 - one file a parser chokes on must not stop the build
        return f"could not be processed ({error_line(error)})"


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

    def read(self, path: Path, doc_id: str) -> Document | str:
        try:
            self._send.send((path, doc_id, self._limits))
            if self._receive.poll(self._limits.seconds):
                return self._receive.recv()
        except (EOFError, OSError):
            self.close()
            return f"the reader stopped while reading it (exit code {self._process.returncode})"
        self.close()
        return f"took longer than {self._limits.seconds:g} s to read; stopped (CITEBOT_FILE_SECONDS)"

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
        send.send(read_one(path, doc_id, limits))


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
