"""What the bot remembers between updates: recent answers, per-user rate, votes, each chat's last question.

In this process's memory; bot.shared_state keeps the same in PostgreSQL for several replicas.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.schema import Answer


class AnswerCache:
    """Recent answers by a short id and the chat they were given in, so a button pressed later in that chat
    can show a source or take a vote. Another chat's buttons, forged or copied, find nothing.

    Each chat keeps its own last `per_chat`, and all chats together at most `capacity`: one user's
    thousands of questions age out their own answers, not every other chat's buttons."""

    def __init__(self, capacity: int = 20_000, per_chat: int = 200) -> None:
        self._answers: OrderedDict[str, tuple[int, Answer]] = OrderedDict()
        self._by_chat: dict[int, deque[str]] = {}
        self._votes: dict[tuple[str, int], str] = {}  # (answer id, user id) -> the vote counted
        self._capacity = capacity
        self._per_chat = per_chat
        self._lock = threading.Lock()  # handlers call it from worker threads, as they would the database

    def put(self, answer: Answer, chat_id: int) -> str:
        with self._lock:
            answer_id = secrets.token_hex(4)
            while answer_id in self._answers:  # 32 bits: among 20,000 a repeat is a few-percent event
                answer_id = secrets.token_hex(4)
            self._answers[answer_id] = (chat_id, answer)
            chat = self._by_chat.setdefault(chat_id, deque())
            chat.append(answer_id)
            if len(chat) > self._per_chat:
                self._forget(chat.popleft())
            while len(self._answers) > self._capacity:
                self._forget(next(iter(self._answers)))
        return answer_id

    def _forget(self, answer_id: str) -> None:
        chat_id, _ = self._answers.pop(answer_id)
        chat = self._by_chat.get(chat_id)
        if chat is not None:
            if chat and chat[0] == answer_id:
                chat.popleft()
            if not chat:
                del self._by_chat[chat_id]
        for key in [key for key in self._votes if key[0] == answer_id]:
            del self._votes[key]

    def get(self, answer_id: str, chat_id: int | None) -> Answer | None:
        chat, answer = self._answers.get(answer_id, (None, None))
        return answer if chat is not None and chat == chat_id else None

    def vote(self, answer_id: str, user_id: int, vote: str) -> str | None:
        """Count a user's vote once: None if it is the one already counted, else the one it replaces ("" if none)."""
        with self._lock:
            previous = self._votes.get((answer_id, user_id), "")
            if previous == vote:
                return None
            self._votes[(answer_id, user_id)] = vote
        return previous


class RateLimiter:
    """At most `per_minute` questions per user in any sliding minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._asked: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._lock = threading.Lock()  # handlers call it from worker threads, as they would the database

    def allow(self, user_id: int) -> bool:
        with self._lock:
            now = self._clock()
            asked = self._asked.setdefault(user_id, deque())
            while asked and now - asked[0] >= 60:
                asked.popleft()
            if len(asked) >= self._per_minute:
                return False
            asked.append(now)
            return True

    def first_refusal(self, user_id: int) -> bool:
        """True once per minute of refusals, so an eager user is told once, not flooded."""
        with self._lock:
            now = self._clock()
            if now - self._warned.get(user_id, -60.0) < 60:
                return False
            self._warned[user_id] = now
        return True


class FeedbackLog:
    """👍/👎 votes appended as JSON lines: question, answer, citations, vote, time; no user names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, answer: Answer, vote: str, replaces: str = "", answer_id: str = "", voter: str = "") -> None:
        """Append a vote; `replaces` names the same voter's earlier vote on this answer, which it supersedes
        (readers keep the last entry of each answer id and voter: index.evaluate.run.latest_votes)."""
        entry = feedback_entry(answer, vote, replaces, answer_id, voter)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # It holds users' questions: readable by the bot's owner alone.
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with open(descriptor, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


def feedback_entry(answer: Answer, vote: str, replaces: str = "", answer_id: str = "",
                   voter: str = "") -> dict[str, Any]:
    """What a vote records: question, answer, citations, vote, time, the answer's id and an opaque voter key
    (voter_key); no user names or ids."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "vote": vote,
        **({"replaces": replaces} if replaces else {}),
        **({"answer_id": answer_id, "voter": voter} if answer_id and voter else {}),
        "question": answer.question,
        "answer": answer.answer,
        "found": answer.found,
        "citations": [{"n": c.n, "doc_id": c.doc_id, "title": c.title, "quote": c.quote} for c in answer.citations],
    }


def save_whole(target: Path, data: bytes) -> None:
    """Write `data` as `target` through a hidden file renamed at the end: a corpus scan never sees half a file,
    and a failure leaves nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".upload-{secrets.token_hex(4)}{target.suffix}")
    try:
        partial.write_bytes(data)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)  # after a failure; a renamed file is no longer there


def voter_key(secret: bytes, answer_id: str, user_id: int) -> str:
    """Who voted on an answer, as a key that tells one voter's votes on it apart from another's and nothing more:
    keyed with the bot's secret, so the log's reader cannot test user ids against it."""
    return hmac.new(secret, f"{answer_id}:{user_id}".encode(), hashlib.sha256).hexdigest()[:16]


class ChatMemory:
    """Each chat's last question (a follow-up's subject) and last answer (what /source N shows)."""

    def __init__(self, capacity: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._chats: OrderedDict[int, tuple[str, float, str]] = OrderedDict()
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()  # handlers call it from worker threads, as they would the database

    def remember(self, chat_id: int, question: str, answer_id: str) -> None:
        with self._lock:
            self._chats[chat_id] = (question, self._clock(), answer_id)
            self._chats.move_to_end(chat_id)
            while len(self._chats) > self._capacity:
                self._chats.popitem(last=False)

    def last_question(self, chat_id: int, within_seconds: float) -> str | None:
        question, asked_at, _ = self._chats.get(chat_id, ("", float("-inf"), ""))
        return question if self._clock() - asked_at <= within_seconds else None

    def last_answer(self, chat_id: int) -> str | None:
        return self._chats.get(chat_id, ("", 0.0, None))[2]
