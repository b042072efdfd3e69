"""Telegram handlers: questions in, cited answers out; sources, votes and commands beside them."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.admin import ONLY_TEXT
from bot.answering import Answering
from bot.live_reply import LiveReply, reply_html
from bot.render import fallback_note, source_number
from bot.state import AnswerCache, ChatMemory, RateLimiter, voter_key
from bot.telegram_render import answer_messages, passage_messages
from index.pipeline import MAX_QUESTION_CHARS, Pipeline, is_follow_up
from index.schema import Answer, Citation
from index.settings import Settings
from index.store.connections import StoreUnavailable

log = logging.getLogger(__name__)

REFUSAL_INTERVAL = 600.0  # seconds between two refusals to the same chat outside the allow-list
FOLLOW_UP_CONTEXT_CHARS = 400
# A quicker answer needs no "typing…"; every chat action counts against Telegram's flood limits.
TYPING_AFTER = 0.3
TYPING_REFRESH = 4.5  # Telegram shows the action for 5 seconds
NOT_ALLOWED = "Sorry, this bot only answers in the chats it was set up for."
TOO_FAST = "You are asking faster than I can answer well. Please wait a minute, then ask again."
NO_WORDS = "Please ask a question in words, for example: Why is Maks Bokayev in prison?"
CUT_NOTE = "Your message was long, so I used its first {limit} characters."
APOLOGY = "Sorry, something went wrong while answering. Please try again in a moment."
INDEX_DOWN = "The document index cannot be reached just now. Please ask again in a minute."
ASK_FIRST = "Ask a question first; then /source N shows its passages."
TOO_OLD = "That answer is too old; ask again to see its sources."
STILL_ANSWERING = "I am still answering your last question; please ask this one when that answer is here."
# The only button data the bot takes (anything else is stale or forged); \Z, as "$" would also match before a "\n".
SOURCE_BUTTON = re.compile(r"src:([0-9a-f]{8}):([0-9]{1,2})\Z")
VOTE_BUTTON = re.compile(r"fb:([0-9a-f]{8}):(up|down)\Z")


def _settings(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    return context.bot_data["settings"]


def _answers(context: ContextTypes.DEFAULT_TYPE) -> AnswerCache:
    return context.bot_data["answers"]


def _memory(context: ContextTypes.DEFAULT_TYPE) -> ChatMemory:
    return context.bot_data["memory"]


async def gatekeeper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop updates from chats outside the allow-list, after one refusal line; then charge the sender's budget."""
    allowed = _settings(context).allowed_chats
    chat = update.effective_chat
    if not allowed or (chat is not None and chat.id in allowed):
        await _charge(update, context)
        return
    if update.callback_query:
        await update.callback_query.answer()
    elif update.effective_message:
        refused_at: dict[int, float] = context.bot_data.setdefault("refused_at", {})
        if time.monotonic() - refused_at.get(chat.id, -REFUSAL_INTERVAL) >= REFUSAL_INTERVAL:
            refused_at[chat.id] = time.monotonic()
            await update.effective_message.reply_text(NOT_ALLOWED)
    raise ApplicationHandlerStop


async def _charge(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """One budget per sender for everything that makes the bot work: questions, commands, buttons, uploads.

    400 `/source 1` from one user used to cost everyone else's answers seconds each.
    """
    if not _acts_on(update, context):
        return
    limiter: RateLimiter = context.bot_data["limiter"]
    sender = update.effective_user.id if update.effective_user else -(update.effective_chat.id if
                                                                        update.effective_chat else 0)
    if await asyncio.to_thread(limiter.allow, sender):  # off the loop: with several replicas, a database call
        return
    if await asyncio.to_thread(limiter.first_refusal, sender):
        if update.callback_query:
            await update.callback_query.answer(TOO_FAST)
        elif update.effective_message:
            await update.effective_message.reply_text(TOO_FAST)
    elif update.callback_query:
        await update.callback_query.answer()  # no spinner left turning, and no message either
    raise ApplicationHandlerStop


def _acts_on(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Will the bot do something with this update? Group chatter not addressed to it costs nothing."""
    if update.callback_query:
        return True
    message = update.effective_message
    if message is None:
        return False
    if update.effective_chat is None or update.effective_chat.type == ChatType.PRIVATE:
        return True
    text = message.text or ""
    return text.startswith("/") or addressed_question(message, context.bot.username, context.bot.id) is not None


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any text in a private chat is a question."""
    await answer_question(update, context, update.effective_message.text or "")


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a group, answer only a message that mentions the bot or replies to it."""
    question = addressed_question(update.effective_message, context.bot.username, context.bot.id)
    if question is not None:
        await answer_question(update, context, question)


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask question: how to ask in a group without mentioning the bot."""
    await answer_question(update, context, " ".join(context.args or []))


def addressed_question(message: Message, username: str, bot_id: int) -> str | None:
    """The question in a group message meant for the bot, or None when it is not for the bot."""
    text = message.text or ""
    mention = re.compile(rf"@{re.escape(username)}\b", re.IGNORECASE)
    if mention.search(text):
        return mention.sub(" ", text).strip()
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return text
    return None


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """Answer one question: rate limit, typing, the pipeline off the event loop, the cited reply."""
    message = update.effective_message  # the sender's budget was charged by the gatekeeper
    question, note = text.strip(), None
    if len(question) > MAX_QUESTION_CHARS:
        question, note = question[:MAX_QUESTION_CHARS], CUT_NOTE.format(limit=MAX_QUESTION_CHARS)
    if not re.search(r"[^\W_]", question):
        await message.reply_text(NO_WORDS)
        return
    answering: Answering = context.bot_data["answering"]
    asker = update.effective_user.id if update.effective_user else message.chat_id
    if not answering.begin(asker):
        await message.reply_text(STILL_ANSWERING)
        return
    typing = asyncio.create_task(_show_typing(context, message.chat_id))
    live = LiveReply(message, asyncio.get_running_loop(), typing)  # an LLM's checked sentences, as they pass
    try:
        answer, answer_id = await answering.run(_answer_and_remember, context, question, message.chat_id, live.offer)
    except BaseException:
        await live.stop()  # the error handler replies; no preview is left updating
        raise
    finally:
        typing.cancel()
        answering.end(asker)
    note = " ".join(n for n in (note, fallback_note(answer)) if n) or None
    await live.deliver(answer_messages(answer, note=note), answer_keyboard(answer_id, answer))


async def _show_typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    """Show "typing…" once an answer takes a noticeable while, and keep it up until it is sent."""
    await asyncio.sleep(TYPING_AFTER)
    while True:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
        await asyncio.sleep(TYPING_REFRESH)


def _answer_and_remember(context: ContextTypes.DEFAULT_TYPE, question: str, chat_id: int,
                         on_text: Callable[[str], None]) -> tuple[Answer, str]:
    """The answer, with the chat's previous question if this one follows it up; kept for buttons and follow-ups."""
    memory = _memory(context)
    window = _settings(context).follow_up_minutes * 60
    previous = memory.last_question(chat_id, window) if is_follow_up(question) else None
    answer = context.bot_data["pipeline"].ask(question, previous, on_text)
    answer_id = _answers(context).put(answer, chat_id)
    asked = f"{previous} {question}" if previous else question
    memory.remember(chat_id, asked[-FOLLOW_UP_CONTEXT_CHARS:], answer_id)
    return answer, answer_id


def answer_keyboard(answer_id: str, answer: Answer, voted: bool = False) -> InlineKeyboardMarkup:
    """One button per source, then 👍/👎 until a vote is cast."""
    sources = [InlineKeyboardButton(f"📄 {c.n}", callback_data=f"src:{answer_id}:{c.n}") for c in answer.citations]
    rows = [sources[i : i + 5] for i in range(0, len(sources), 5)]
    if not voted:
        rows.append([InlineKeyboardButton("👍", callback_data=f"fb:{answer_id}:up"),
                     InlineKeyboardButton("👎", callback_data=f"fb:{answer_id}:down")])
    return InlineKeyboardMarkup(rows)


def _citation(answer: Answer | None, n: int) -> Citation | None:
    return next((c for c in answer.citations if c.n == n), None) if answer else None


async def on_source_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the full passage behind a source button."""
    query = update.callback_query
    answer_id, n = SOURCE_BUTTON.match(query.data).groups()
    citation = _citation(await asyncio.to_thread(_answers(context).get, answer_id, _chat_of(query)), int(n))
    if citation is None or query.message is None:
        await query.answer(TOO_OLD)
        return
    await query.answer()
    await reply_html(query.message, passage_messages(citation))


async def on_vote_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Record a 👍/👎 vote on an answer in the feedback log."""
    query = update.callback_query
    answer_id, vote = VOTE_BUTTON.match(query.data).groups()
    answer, replaces = await asyncio.to_thread(_count_vote, context, answer_id, _chat_of(query), query.from_user.id,
                                               vote)
    if answer is None or query.message is None:
        await query.answer("That answer is too old to rate.")
        return
    if replaces is None:
        await query.answer("Your vote is already counted.")
        return
    await query.answer("Thanks for the feedback!")
    await query.edit_message_reply_markup(answer_keyboard(answer_id, answer, voted=True))


def _count_vote(context: ContextTypes.DEFAULT_TYPE, answer_id: str, chat_id: int | None, user_id: int,
                vote: str) -> tuple[Answer | None, str | None]:
    """The answer voted on, and the vote this one replaces (None: the same vote was already counted)."""
    answers = _answers(context)
    answer = answers.get(answer_id, chat_id)
    if answer is None or chat_id is None:
        return answer, None
    replaces = answers.vote(answer_id, user_id, vote)
    if replaces is not None:
        voter = voter_key(_settings(context).telegram_bot_token.get_secret_value().encode(), answer_id, user_id)
        context.bot_data["feedback"].record(answer, vote, replaces, answer_id, voter)
    return answer, replaces


def _chat_of(query) -> int | None:
    """The chat whose message holds the button; None for an inline message, which belongs to no chat."""
    return query.message.chat.id if query.message is not None else None


async def on_stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button whose data this bot does not know (an old version's, or forged)."""
    await update.callback_query.answer(TOO_OLD)


async def source_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/source N: the full passage of source N of the last answer in this chat."""
    answer = await asyncio.to_thread(_last_answer, context, update.effective_chat.id)
    if answer is None:
        await update.effective_message.reply_text(ASK_FIRST)
        return
    arg = context.args[0] if context.args else ""
    number = source_number(arg, len(answer.citations))
    citation = _citation(answer, number) if number is not None else None
    if citation is None:
        await update.effective_message.reply_text(
            f"Give a source number from 1 to {len(answer.citations)}, for example /source 1.")
        return
    await reply_html(update.effective_message, passage_messages(citation))


def _last_answer(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> Answer | None:
    return _answers(context).get(_memory(context).last_answer(chat_id) or "", chat_id)


async def start_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: what the bot knows about, and questions to try."""
    pipeline: Pipeline = context.bot_data["pipeline"]
    documents = "\n".join(f"• {doc['title']} ({doc.get('date') or 'undated'})"
                          for doc in sorted(pipeline.store.docs.values(), key=lambda d: d.get("date") or ""))
    await update.effective_message.reply_text(pipeline.prompts.render("start", documents=documents))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help: the commands."""
    await update.effective_message.reply_text(context.bot_data["pipeline"].prompts.render("help"))


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: documents, passages, when indexed, index version."""
    meta = context.bot_data["pipeline"].store.meta
    await update.effective_message.reply_text(
        f"Documents: {meta['documents']}\nPassages: {meta['chunks']}\n"
        f"Indexed: {meta['built_at']}\nIndex version: {meta['version']}")


async def on_other_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Photos, stickers, voice and the like: say what the bot can read."""
    await update.effective_message.reply_text(ONLY_TEXT)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its traceback and apologise briefly (the index database being down: say so)."""
    down = isinstance(context.error, StoreUnavailable)  # the database restarts: no bug, and it passes by itself
    if down:
        log.warning("handling update %s: %s", getattr(update, "update_id", "?"), context.error)
    else:
        log.error("handling update %s failed", getattr(update, "update_id", "?"), exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(INDEX_DOWN if down else APOLOGY)
        except TelegramError:
            log.warning("could not send the apology", exc_info=True)
