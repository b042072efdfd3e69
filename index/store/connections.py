"""Connections to PostgreSQL: failures as one line without the password, and a small pool that recovers at once.

psycopg_pool's pool is not used: after the database restarts it reconnects with a
growing backoff, so questions kept failing for seconds after the database was back.
Here each checkout tests an idle connection with one round trip (about 0.1 ms) and
replaces a dead one on the spot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CONNECT_SECONDS = 5  # how long connecting may take before the database counts as down
POOL_SIZE = 4  # idle connections kept per process: questions run in a few threads at most


class StoreUnavailable(Exception):
    """The index database cannot be reached; the bot says so politely and tries again on the next question."""


def readable_url(url: str) -> str:
    """The database URL without its password, for messages and logs."""
    parts = _parsed(url)
    if parts is None:
        return f"database at {_host(url)} (its URL is malformed)"
    where = parts.get("host") or "localhost"
    where = "a local socket" if where.startswith("/") else where
    name = parts.get("dbname") or parts.get("user")
    return f"database {name} on {where}" if name else f"database on {where}"


def reason(error: BaseException, url: str = "") -> str:
    """psycopg's message may quote the connection string; keep its last line, which says what failed, with the
    URL's password blanked wherever it still appears."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[-1][:200] if lines else type(error).__name__
    for secret in _passwords(url):
        text = text.replace(secret, "***")
    return text


def _parsed(url: str) -> dict[str, Any] | None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - libpq's parse message quotes the bad part, which can be the password
        return None


def _host(url: str) -> str:
    """The host named in a URL that libpq cannot parse, read without it: nothing else of the URL is said."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        host = None
    return host or "an unreadable host"


def _passwords(url: str) -> list[str]:
    """The URL's password as written and decoded, longest first; none when it has none."""
    from urllib.parse import unquote, urlsplit

    try:
        written = urlsplit(url.strip()).password
    except ValueError:
        written = None
    found = {p for p in (written, unquote(written or "")) if p}
    parsed = _parsed(url) or {}
    if parsed.get("password"):
        found.add(parsed["password"])
    return sorted(found, key=len, reverse=True)


def connect(url: str, application: str = "citebot") -> Any:
    """One autocommit connection with the vector type known, or StoreUnavailable naming the database."""
    import psycopg

    if _parsed(url) is None:
        raise StoreUnavailable(f"the database URL is malformed (host {_host(url)}); check CITEBOT_DATABASE_URL")
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_SECONDS,
                                     application_name=application)
    except psycopg.Error as error:
        raise StoreUnavailable(f"cannot reach the index {readable_url(url)} ({reason(error, url)})") from None
    register_vector(connection)
    return connection


def register_vector(connection: Any) -> None:
    """Let numpy arrays in and out as pgvector's type, once the extension exists (`citebot index` creates it)."""
    from pgvector.psycopg import register_vector as register

    if connection.execute("SELECT 1 FROM pg_type WHERE typname = 'vector'").fetchone():
        register(connection)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """A lost connection or a database that went away, as StoreUnavailable."""
    import psycopg

    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as error:
        raise StoreUnavailable(f"the index {readable_url(url)} is unavailable ({reason(error, url)})") from None


class Connections:
    """A few idle connections for reuse; one that died with the database is replaced when next taken."""

    def __init__(self, url: str, setup: tuple[str, ...] = (), size: int = POOL_SIZE) -> None:
        self.url = url
        self._setup = setup  # statements each new connection runs first (SET hnsw.ef_search = ...)
        self._size = size
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """An autocommit connection, returned for reuse only if it is healthy and idle afterwards."""
        with database_errors(self.url):
            connection = self._take()
            try:
                yield connection
            finally:
                self._give_back(connection)

    def _take(self) -> Any:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                break
            try:
                connection.execute("SELECT 1")
                return connection
            except Exception:  # noqa: BLE001 - dead with a restart or a network cut: drop it, try the next
                connection.close()
        connection = connect(self.url)
        for statement in self._setup:
            connection.execute(statement)
        return connection

    def _give_back(self, connection: Any) -> None:
        from psycopg.pq import TransactionStatus

        healthy = not connection.closed and connection.info.transaction_status == TransactionStatus.IDLE
        with self._lock:
            if healthy and len(self._idle) < self._size:
                self._idle.append(connection)
                return
        connection.close()
