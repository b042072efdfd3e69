"""What the bot remembers, kept in PostgreSQL when CITEBOT_DATABASE_URL is set.

Bot replicas behind one webhook URL then behave as one bot: an answer given by one
can have its source shown or be voted on through another, a user's rate budget is
one budget, and a follow-up question finds its predecessor wherever it was asked.
The same methods as bot.state's in-memory classes; each call is one short transaction.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from index.schema import Answer
from index.store.connections import Connections

SETUP_LOCK = 0x63697465626F75  # serialises CREATE TABLE IF NOT EXISTS between replicas starting together
ANSWER_DAYS = 30  # how long an answer's buttons keep working
ANSWERS_PER_CHAT = 200  # and at most this many per chat: a flood ages out its own chat's answers alone
ANSWERS_KEPT = 100_000  # and in all (about 0.5 GB of answers with their passages)
FEEDBACK_DAYS = 365  # votes are the owner's eval material (`citebot eval --from-feedback`): a year of them
SCHEMA = [
    "CREATE TABLE IF NOT EXISTS citebot_answers (answer_id text PRIMARY KEY, chat_id bigint NOT NULL, "
    "answer jsonb NOT NULL, created timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS citebot_answers_created ON citebot_answers (created)",
    "CREATE INDEX IF NOT EXISTS citebot_answers_chat ON citebot_answers (chat_id, created)",
    "CREATE TABLE IF NOT EXISTS citebot_votes (answer_id text NOT NULL REFERENCES citebot_answers ON DELETE CASCADE, "
    "user_id bigint NOT NULL, vote text NOT NULL, PRIMARY KEY (answer_id, user_id))",
    "CREATE TABLE IF NOT EXISTS citebot_feedback (id bigserial PRIMARY KEY, entry jsonb NOT NULL)",
    "ALTER TABLE citebot_feedback ADD COLUMN IF NOT EXISTS recorded timestamptz NOT NULL DEFAULT now()",
    "ALTER TABLE citebot_feedback ADD COLUMN IF NOT EXISTS answer_id text",
    "ALTER TABLE citebot_feedback ADD COLUMN IF NOT EXISTS voter text",
    "CREATE UNIQUE INDEX IF NOT EXISTS citebot_feedback_vote ON citebot_feedback (answer_id, voter)",
    "CREATE TABLE IF NOT EXISTS citebot_requests (user_id bigint NOT NULL, at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS citebot_requests_user ON citebot_requests (user_id, at)",
    "CREATE TABLE IF NOT EXISTS citebot_refusals (user_id bigint PRIMARY KEY, warned_at timestamptz NOT NULL)",
    "CREATE TABLE IF NOT EXISTS citebot_uploads (name text PRIMARY KEY, data bytea NOT NULL, "
    "uploaded timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS citebot_chats (chat_id bigint PRIMARY KEY, question text NOT NULL, "
    "asked_at timestamptz NOT NULL, last_answer text NOT NULL)",
]


class SharedState:
    """One connection pool for all of the bot's shared memory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool = Connections(url)

    def open(self) -> SharedState:
        """Create the tables if need be; raises StoreUnavailable (one line) when the database cannot be reached."""
        with self.transaction() as connection:
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
            for statement in SCHEMA:
                connection.execute(statement)
        return self

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction on a pooled connection; a database that is down or gone raises StoreUnavailable."""
        with self._pool.connection() as connection, connection.transaction():
            yield connection


class SharedAnswers:
    """bot.state.AnswerCache in the database: recent answers by id and chat, and each user's vote on them."""

    def __init__(self, state: SharedState, per_chat: int = ANSWERS_PER_CHAT, kept: int = ANSWERS_KEPT) -> None:
        self._state = state
        self._per_chat = per_chat
        self._kept = kept

    def put(self, answer: Answer, chat_id: int) -> str:
        answer_id = secrets.token_hex(4)
        with self._state.transaction() as connection:
            connection.execute("DELETE FROM citebot_answers WHERE created < now() - make_interval(days => %s)",
                               (ANSWER_DAYS,))
            connection.execute("INSERT INTO citebot_answers (answer_id, chat_id, answer) VALUES (%s, %s, %s)",
                               (answer_id, chat_id, json.dumps(answer.to_json(), ensure_ascii=False)))
            connection.execute("DELETE FROM citebot_answers WHERE answer_id IN (SELECT answer_id FROM citebot_answers "
                               "WHERE chat_id = %s ORDER BY created DESC, answer_id OFFSET %s)",
                               (chat_id, self._per_chat))
            connection.execute("DELETE FROM citebot_answers WHERE created < (SELECT created FROM citebot_answers "
                               "ORDER BY created DESC OFFSET %s LIMIT 1)", (self._kept - 1,))
        return answer_id

    def get(self, answer_id: str, chat_id: int | None) -> Answer | None:
        with self._state.transaction() as connection:
            row = connection.execute("SELECT answer FROM citebot_answers WHERE answer_id = %s AND chat_id = %s",
                                     (answer_id, chat_id)).fetchone()
        return Answer.from_json(row[0]) if row else None

    def vote(self, answer_id: str, user_id: int, vote: str) -> str | None:
        """Count a user's vote once: None if it is the one already counted, else the one it replaces ("" if none).

        One statement: a SELECT ... FOR UPDATE first locks nothing while no row exists, so 195 of 200
        simultaneous first presses were each counted. Here the loser of the race waits on the winner's row and
        finds its vote already there."""
        with self._state.transaction() as connection:
            row = connection.execute(
                "WITH previous AS (SELECT vote FROM citebot_votes WHERE answer_id = %(answer)s AND user_id = %(user)s) "
                "INSERT INTO citebot_votes (answer_id, user_id, vote) VALUES (%(answer)s, %(user)s, %(vote)s) "
                "ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote "
                "WHERE citebot_votes.vote IS DISTINCT FROM excluded.vote RETURNING (SELECT vote FROM previous)",
                {"answer": answer_id, "user": user_id, "vote": vote}).fetchone()
        return None if row is None else row[0] or ""


class SharedRateLimiter:
    """bot.state.RateLimiter in the database: one sliding minute per user across every replica."""

    def __init__(self, state: SharedState, per_minute: int) -> None:
        self._state = state
        self._per_minute = per_minute

    def allow(self, user_id: int) -> bool:
        with self._state.transaction() as connection:
            connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", (SETUP_LOCK & 0x7FFFFFFF, _int32(user_id)))
            connection.execute("DELETE FROM citebot_requests WHERE user_id = %s AND at <= now() - interval '1 minute'",
                               (user_id,))
            asked = connection.execute("SELECT count(*) FROM citebot_requests WHERE user_id = %s",
                                       (user_id,)).fetchone()[0]
            if asked >= self._per_minute:
                return False
            connection.execute("INSERT INTO citebot_requests (user_id, at) VALUES (%s, now())", (user_id,))
        return True

    def first_refusal(self, user_id: int) -> bool:
        """True once per minute of refusals, so an eager user is told once, not flooded."""
        with self._state.transaction() as connection:
            row = connection.execute(
                "INSERT INTO citebot_refusals (user_id, warned_at) VALUES (%s, now()) ON CONFLICT (user_id) DO UPDATE "
                "SET warned_at = now() WHERE citebot_refusals.warned_at <= now() - interval '1 minute' RETURNING 1",
                (user_id,)).fetchone()
        return row is not None


class SharedFeedback:
    """bot.state.FeedbackLog in the database: the same entries, in citebot_feedback."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    def record(self, answer: Answer, vote: str, replaces: str = "", answer_id: str = "", voter: str = "") -> None:
        """One entry per answer and voter: a changed vote replaces the entry it changes."""
        from bot.state import feedback_entry

        entry = json.dumps(feedback_entry(answer, vote, replaces, answer_id, voter), ensure_ascii=False)
        with self._state.transaction() as connection:
            connection.execute("DELETE FROM citebot_feedback WHERE recorded < now() - make_interval(days => %s)",
                               (FEEDBACK_DAYS,))
            connection.execute("INSERT INTO citebot_feedback (entry, answer_id, voter) VALUES (%s, %s, %s) "
                               "ON CONFLICT (answer_id, voter) DO UPDATE SET entry = excluded.entry, recorded = now()",
                               (entry, answer_id or None, voter or None))

    def entries(self) -> list[dict[str, Any]]:
        with self._state.transaction() as connection:
            return [row[0] for row in connection.execute("SELECT entry FROM citebot_feedback ORDER BY recorded, id")]


class SharedUploads:
    """Documents admins sent to any replica, kept in the database: each replica writes the ones its corpus folder
    lacks before it rebuilds, so a /reindex on another replica never drops them."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    def names(self) -> set[str]:
        with self._state.transaction() as connection:
            return {row[0] for row in connection.execute("SELECT name FROM citebot_uploads")}

    def save(self, name: str, data: bytes) -> bool:
        """Keep an upload under `name`; False when another replica took that name first (nothing is overwritten)."""
        with self._state.transaction() as connection:
            return connection.execute("INSERT INTO citebot_uploads (name, data) VALUES (%s, %s) ON CONFLICT (name) "
                                      "DO NOTHING RETURNING name", (name, data)).fetchone() is not None

    def sync_into(self, corpus: Path) -> list[str]:
        """Write into `corpus` each upload it lacks (a file of that name already there is left as it is)."""
        from bot.state import save_whole

        with self._state.transaction() as connection:
            missing = [name for (name,) in connection.execute("SELECT name FROM citebot_uploads ORDER BY name")
                       if not (corpus / name).exists()]
            for name in missing:
                (data,) = connection.execute("SELECT data FROM citebot_uploads WHERE name = %s", (name,)).fetchone()
                save_whole(corpus / name, bytes(data))
        return missing


class SharedChatMemory:
    """bot.state.ChatMemory in the database: each chat's last question and answer."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    def remember(self, chat_id: int, question: str, answer_id: str) -> None:
        with self._state.transaction() as connection:
            connection.execute("INSERT INTO citebot_chats (chat_id, question, asked_at, last_answer) "
                               "VALUES (%s, %s, now(), %s) ON CONFLICT (chat_id) DO UPDATE SET question = "
                               "excluded.question, asked_at = excluded.asked_at, last_answer = excluded.last_answer",
                               (chat_id, question, answer_id))

    def last_question(self, chat_id: int, within_seconds: float) -> str | None:
        with self._state.transaction() as connection:
            row = connection.execute("SELECT question FROM citebot_chats WHERE chat_id = %s AND "
                                     "asked_at > now() - make_interval(secs => %s)",
                                     (chat_id, within_seconds)).fetchone()
        return row[0] if row else None

    def last_answer(self, chat_id: int) -> str | None:
        with self._state.transaction() as connection:
            row = connection.execute("SELECT last_answer FROM citebot_chats WHERE chat_id = %s", (chat_id,)).fetchone()
        return row[0] if row else None


def _int32(number: int) -> int:
    """A user id folded into the 32-bit key of a two-key advisory lock."""
    return (number & 0xFFFFFFFF) - (1 << 32 if number & 0x80000000 else 0)

