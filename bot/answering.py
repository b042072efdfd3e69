"""Where questions are answered: a bounded pool of their own, and how many each user has in flight.

Quick work (rate limits, buttons, /help, memory look-ups) runs on asyncio's default pool; if
answers ran there too, one user's six questions to a slow LLM held every thread, and another
user's /help waited 9 s behind them. Counts are kept on the event loop's thread alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Answering:
    """Runs answers on `threads` threads; `begin` refuses a user who already has `per_user` in flight."""

    def __init__(self, threads: int, per_user: int) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="citebot-answer")
        self._per_user = per_user
        self._in_flight: dict[int, int] = {}

    def begin(self, user_id: int) -> bool:
        """Take one of the user's slots; False when they are all taken (call `end` after a True)."""
        if self._in_flight.get(user_id, 0) >= self._per_user:
            return False
        self._in_flight[user_id] = self._in_flight.get(user_id, 0) + 1
        return True

    def end(self, user_id: int) -> None:
        left = self._in_flight.get(user_id, 0) - 1
        if left > 0:
            self._in_flight[user_id] = left
        else:
            self._in_flight.pop(user_id, None)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
