"""Run the real python-telegram-bot Application, polling the fake Bot API server, in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any

from telegram import Update

from bot.telegram_app import build_application
from fake_telegram import FakeTelegram
from index.settings import Settings

TOKEN = "123456789:AAF-fake-token-that-must-never-reach-a-log"
TELEGRAM_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler"}


@contextmanager
def running_bot(pipeline, tmp_path, **overrides: Any) -> Iterator[tuple[FakeTelegram, Any]]:
    """A fake Telegram and the real bot polling it; stopped and joined on exit."""
    fake = FakeTelegram(TOKEN).start()
    settings = Settings(telegram_bot_token=TOKEN, telegram_api_url=fake.api_url, corpus_dir=pipeline.settings.corpus_dir,
                        index_dir=pipeline.settings.index_dir, feedback_log=tmp_path / "feedback.jsonl", **overrides)
    application = build_application(settings, pipeline)
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        application.run_polling(stop_signals=None, poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)

    thread = threading.Thread(target=serve, name="citebot-telegram", daemon=True)
    thread.start()
    try:
        fake.wait_for("setMyCommands")  # post_init is done: the bot is about to poll
        yield fake, application
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        fake.stop()
    assert not thread.is_alive(), "the bot did not stop"


class TelegramHtmlChecker(HTMLParser):
    """Fails on what Telegram's HTML parser rejects: unknown tags, unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        assert tag in TELEGRAM_TAGS, f"tag <{tag}> is not Telegram HTML"
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"unbalanced </{tag}>"


def assert_telegram_html(text: str) -> None:
    checker = TelegramHtmlChecker()
    checker.feed(text)
    checker.close()
    assert not checker.open, f"unclosed tags {checker.open}"
    assert len(text) <= 4096
