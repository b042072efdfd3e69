"""An LLM answer shown in Telegram while it is written: each checked sentence as soon as it passed.

In a private chat the text so far goes out as a draft (`sendMessageDraft`, an ephemeral preview the
final `sendMessage` persists, sent again while it stays the same); in a group, as one reply edited as
it grows. Both are throttled to Telegram's limits, and the newest text replaces any not yet sent. The
source buttons come with the final message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import TelegramError

log = logging.getLogger(__name__)
DRAFT_INTERVAL = 1.0  # seconds between drafts: Telegram asks for at most one message a second in a chat
# A draft is a preview of about 30 s: one not changed for this long is sent again, so that it stays up
# while the model writes on through sentences that are not shown (refused, or not finished).
DRAFT_REFRESH = 20.0
EDIT_INTERVAL = 3.0  # seconds between edits in a group: at most 20 messages a minute there
GROWING = " …"  # the answer goes on


async def reply_html(message: Message, parts: list[str], keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Send `parts` as replies (quoting the question in a group), the keyboard under the last."""
    in_group = message.chat.type != ChatType.PRIVATE
    for i, html in enumerate(parts):
        last = i == len(parts) - 1
        await message.reply_html(html, do_quote=in_group and i == 0, reply_markup=keyboard if last else None)


class LiveReply:
    """Shows the text `offer`ed from the worker thread; `deliver` replaces it with the final answer."""

    def __init__(self, message: Message, loop: asyncio.AbstractEventLoop, typing: asyncio.Task | None = None) -> None:
        self._message = message
        self._loop = loop
        self._typing = typing  # stopped once a preview shows that the bot is writing
        self._private = message.chat.type == ChatType.PRIVATE
        self._latest = ""
        self._changed = asyncio.Event()
        self._shower: asyncio.Task | None = None
        self._sending: asyncio.Future | None = None
        self._refresh: asyncio.TimerHandle | None = None  # in a private chat: when the draft is sent again
        self.edited: Message | None = None  # in a group: the reply that grows

    def offer(self, text: str) -> None:
        """The answer's checked text so far; called from the thread that answers."""
        self._loop.call_soon_threadsafe(self._take, text)

    def _take(self, text: str) -> None:
        self._latest = text
        self._changed.set()
        if self._shower is None:
            self._shower = asyncio.create_task(self._show())

    async def _show(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self._typing is not None:
                self._typing.cancel()
            # Shielded: stopping the previews must not cut a request in half (a group reply sent, not known).
            self._sending = asyncio.ensure_future(self._send(_preview(self._latest)))
            await asyncio.shield(self._sending)
            if self._private:
                # The same draft again unless newer text comes first. A timer, not wait_for: Python 3.11's
                # wait_for swallows a cancel that comes as the event is set, and stop() then waited forever.
                self._cancel_refresh()
                self._refresh = self._loop.call_later(DRAFT_REFRESH, self._changed.set)
            await asyncio.sleep(DRAFT_INTERVAL if self._private else EDIT_INTERVAL)

    def _cancel_refresh(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None

    async def _send(self, text: str) -> None:
        try:
            if self._private:
                await self._message.get_bot().send_message_draft(self._message.chat_id, self._message.message_id, text)
            elif self.edited is None:
                self.edited = await self._message.reply_text(text, do_quote=True)
            else:
                await self.edited.edit_text(text)
        except TelegramError as error:  # a preview that fails loses nothing: the final answer follows
            log.warning("could not show the answer so far (%s)", error)

    async def stop(self) -> None:
        """No more previews; one under way is let finish."""
        self._cancel_refresh()
        if self._shower is not None:
            self._shower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._shower
        if self._sending is not None:
            await self._sending

    async def deliver(self, parts: list[str], keyboard: InlineKeyboardMarkup | None) -> None:
        """The final answer: sent as a new message (in a private chat it persists the draft), or, in a group,
        written into the reply that grew."""
        await self.stop()
        if self.edited is not None:
            try:
                await self.edited.edit_text(parts[0], parse_mode=ParseMode.HTML,
                                            reply_markup=keyboard if len(parts) == 1 else None)
                parts = parts[1:]
            except TelegramError as error:
                log.warning("could not finish the answer in place (%s); sending it anew", error)
            if parts:
                await reply_html(self.edited, parts, keyboard)
            return
        await reply_html(self._message, parts, keyboard)


def _preview(text: str) -> str:
    limit = MessageLimit.MAX_TEXT_LENGTH - len(GROWING)
    return (text if len(text) <= limit else text[: limit - 1] + "…") + GROWING
