"""The Telegram bot: a python-telegram-bot Application over the answering pipeline."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler,
                          Defaults, MessageHandler, TypeHandler, filters)

from bot import admin, handlers
from bot.answering import Answering
from bot.state import AnswerCache, ChatMemory, FeedbackLog, RateLimiter
from index.pipeline import Pipeline
from index.settings import Settings

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "What I know about, and questions to try"),
    BotCommand("help", "How to ask, and the commands"),
    BotCommand("source", "Full passage of source N of my last answer"),
    BotCommand("ask", "Ask a question (in groups)"),
    BotCommand("stats", "Documents and passages indexed"),
    BotCommand("reindex", "Rebuild the index (admins)"),
]


def file_url(api_url: str) -> str:
    """The Bot API's file URL that goes with its base URL (…/bot → …/file/bot)."""
    base = api_url.rstrip("/")
    return f"{base[: -len('/bot')]}/file/bot" if base.endswith("/bot") else f"{base}/file/bot"


def build_application(settings: Settings, pipeline: Pipeline | None = None) -> Application:
    """The bot, ready to run; without `pipeline`, the model and index load in post_init."""
    token = settings.telegram_bot_token.get_secret_value()
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_url.rstrip("/"))
        .base_file_url(file_url(settings.telegram_api_url))
        .concurrent_updates(True)  # one slow question must not hold up other chats
        .rate_limiter(AIORateLimiter(max_retries=3))  # Telegram's flood limits, and RetryAfter
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data.update(
        settings=settings,
        pipeline=pipeline,
        answering=Answering(settings.answer_threads, settings.questions_per_user),
        **bot_memory(settings),
    )
    _add_handlers(application)
    return application


def bot_memory(settings: Settings) -> dict[str, Any]:
    """Answers, rate budgets, votes and each chat's last question: in this process, or in the index database
    when one is set, so that replicas behind one webhook URL behave as one bot."""
    url = settings.database_url.get_secret_value()
    if not url:
        return {"answers": AnswerCache(), "limiter": RateLimiter(settings.rate_limit_per_minute),
                "feedback": FeedbackLog(settings.feedback_log), "memory": ChatMemory(), "uploads": None}
    from bot.shared_state import (SharedAnswers, SharedChatMemory, SharedFeedback, SharedRateLimiter, SharedState,
                                  SharedUploads)

    state = SharedState(url).open()
    return {"answers": SharedAnswers(state), "limiter": SharedRateLimiter(state, settings.rate_limit_per_minute),
            "feedback": SharedFeedback(state), "memory": SharedChatMemory(state), "uploads": SharedUploads(state)}


def _add_handlers(application: Application) -> None:
    application.add_handler(TypeHandler(Update, handlers.gatekeeper), group=-1)
    commands = {"start": handlers.start_command, "help": handlers.help_command, "source": handlers.source_command,
                "ask": handlers.ask_command, "stats": handlers.stats_command, "reindex": admin.reindex_command}
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback))
    new_text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(new_text & filters.ChatType.PRIVATE, handlers.on_private_text))
    application.add_handler(MessageHandler(new_text & filters.ChatType.GROUPS, handlers.on_group_text))
    private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    application.add_handler(MessageHandler(private & filters.Document.ALL, admin.on_document))
    application.add_handler(MessageHandler(private & filters.PHOTO, admin.on_photo))
    other = private & ~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL
    application.add_handler(MessageHandler(other, handlers.on_other_message))
    application.add_handler(CallbackQueryHandler(handlers.on_source_button, pattern=handlers.SOURCE_BUTTON))
    application.add_handler(CallbackQueryHandler(handlers.on_vote_button, pattern=handlers.VOTE_BUTTON))
    application.add_handler(CallbackQueryHandler(handlers.on_stale_button))
    application.add_error_handler(handlers.on_error)


async def _post_init(application: Application) -> None:
    """Load the model and index once, before the first update; register the command menu."""
    settings: Settings = application.bot_data["settings"]
    if application.bot_data["pipeline"] is None:
        application.bot_data["pipeline"] = await asyncio.to_thread(Pipeline.open, settings)
    if "library_log_level" in application.bot_data:
        logging.getLogger("telegram.ext").setLevel(application.bot_data.pop("library_log_level"))
    await application.bot.set_my_commands(COMMANDS)
    store = application.bot_data["pipeline"].store
    log.info("serving @%s: %d documents, %d passages", application.bot.username, len(store.docs), len(store.chunks))


async def _post_shutdown(application: Application) -> None:
    """Questions still waiting for an answering thread are dropped with the bot."""
    application.bot_data["answering"].close()


class RedactToken(logging.Filter):
    """Replace the bot token wherever it would reach a log: messages, arguments, tracebacks."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._token:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = message.replace(self._token, "<token>"), ()
        if record.exc_text:
            record.exc_text = record.exc_text.replace(self._token, "<token>")
        return True


def run_bot(settings: Settings) -> None:
    """Serve until interrupted: by webhook when a webhook URL is set, by polling otherwise."""
    token_filter = RedactToken(settings.telegram_bot_token.get_secret_value())
    for handler in logging.getLogger().handlers:
        handler.addFilter(token_filter)
    application = build_application(settings)
    # A failure to start (bad token, no network) is reported once, as one line, by the CLI;
    # python-telegram-bot's own traceback of it is held back until post_init.
    library_log = logging.getLogger("telegram.ext")
    application.bot_data["library_log_level"] = library_log.level
    library_log.setLevel(logging.CRITICAL)
    if settings.webhook_url:
        # Without a secret anyone who finds the URL can post updates "from" an admin; so there always is one,
        # registered with setWebhook, which Telegram then sends with every update.
        secret = settings.webhook_secret.get_secret_value() or secrets.token_urlsafe(32)
        if not settings.webhook_secret.get_secret_value():
            logging.getLogger(__name__).info("no CITEBOT_WEBHOOK_SECRET set: using one generated for this run")
            if settings.database_url.get_secret_value():  # replicas: the last to start would shut out the others
                logging.getLogger(__name__).warning(
                    "several replicas behind one webhook URL need the same CITEBOT_WEBHOOK_SECRET; "
                    "without it only the last one started is reached")
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path="telegram",
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
