"""Admin handlers: rebuild the index, and add documents sent to the bot."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import ContextTypes

from bot.state import save_whole
from index.ingest.build import CorpusError, update_index
from index.pipeline import Pipeline
from index.ingest.readers import SUPPORTED_SUFFIXES
from index.store.files import BuildBusy, IndexWriteError

if TYPE_CHECKING:
    from bot.shared_state import SharedUploads

ADMINS_ONLY = "Only the bot's admins can do that."
ONLY_TEXT = "I can only read text. Please type your question as a message."
TELEGRAM_DOWNLOAD_MB = 20  # the Bot API serves files up to 20 MB
MAX_NAME_BYTES = 200  # file systems allow 255; room is left for "-2" and the hidden upload prefix


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.bot_data["settings"].admins


async def reindex_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex: bring the index up to date with the corpus folder and serve it (admins only)."""
    if not is_admin(update, context):
        await update.effective_message.reply_text(ADMINS_ONLY)
        return
    await update.effective_message.reply_text("Rebuilding the index…")
    await _rebuild_and_report(update, context)


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin's file is saved into the corpus under a safe name and indexed; anyone else's is declined."""
    message = update.effective_message
    if not is_admin(update, context):
        await message.reply_text(ONLY_TEXT)
        return
    document = message.document
    name = safe_file_name(document.file_name or "document")
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        await message.reply_text(f"I can index {', '.join(SUPPORTED_SUFFIXES)} files; "
                                 f"{document.file_name or 'this file'} is not one of them.")
        return
    await _save_and_index(update, context, name, document.file_id, document.file_size)


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin's photo of a page is saved as a JPEG and indexed by OCR; anyone else's is declined."""
    message = update.effective_message
    if not is_admin(update, context):
        await message.reply_text(ONLY_TEXT)
        return
    largest = message.photo[-1]  # Telegram lists the sizes it made, smallest first
    name = f"photo-{message.date:%Y-%m-%d-%H%M%S}.jpg"
    await _save_and_index(update, context, name, largest.file_id, largest.file_size)


async def _save_and_index(update: Update, context: ContextTypes.DEFAULT_TYPE, name: str, file_id: str,
                          claimed_size: int | None) -> None:
    message = update.effective_message
    settings = context.bot_data["settings"]
    limit_mb = min(settings.max_file_mb, TELEGRAM_DOWNLOAD_MB)
    too_big = f"That file is over {limit_mb:g} MB; put it in the corpus folder by hand instead."
    if (claimed_size or 0) > limit_mb * 2**20:
        await message.reply_text(too_big)
        return
    telegram_file = await context.bot.get_file(file_id)
    data = await telegram_file.download_as_bytearray()
    if len(data) > limit_mb * 2**20:  # file_size is what the sender claims; these are the bytes that came
        await message.reply_text(too_big)
        return
    corpus = Path(settings.corpus_dir)
    corpus.mkdir(parents=True, exist_ok=True)
    target = await asyncio.to_thread(_keep, context.bot_data["uploads"], corpus, name, bytes(data))
    saved = (f"Saved as {target.name}." if target.name == name
             else f"A document named {name} is already in the corpus, so I saved this one as {target.name}.")
    await message.reply_text(f"{saved} Indexing…")
    await _rebuild_and_report(update, context)


def _keep(uploads: SharedUploads | None, corpus: Path, name: str, data: bytes) -> Path:
    """Save an upload under a name free in the corpus folder (and, with a database, among every replica's
    uploads, where it is kept too); nothing is overwritten."""
    taken = uploads.names() if uploads is not None else set()
    target = _free_path(corpus / name, taken)
    while uploads is not None and not uploads.save(target.name, data):  # another replica took it just now
        taken.add(target.name)
        target = _free_path(corpus / name, taken)
    save_whole(target, data)
    return target


async def _rebuild_and_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    pipeline: Pipeline = context.bot_data["pipeline"]
    uploads = context.bot_data["uploads"]
    if uploads is not None:  # documents sent to other replicas, so that this rebuild keeps them
        await asyncio.to_thread(uploads.sync_into, Path(pipeline.settings.corpus_dir))
    try:
        # One rebuild at a time, across processes too: a second is refused by the build lock.
        report = await asyncio.to_thread(update_index, pipeline.settings, lambda: pipeline.embedder)
    except (CorpusError, BuildBusy, IndexWriteError) as error:
        await message.reply_text(f"Nothing was rebuilt: {error}")
        return
    await asyncio.to_thread(pipeline.refresh)  # load the new version now, not during someone's question
    await message.reply_text(report.summary())


def safe_file_name(raw: str) -> str:
    """A plain file name: no folders, no hidden or parent names, only word characters, dots and dashes,
    at most MAX_NAME_BYTES in UTF-8 with its extension kept (100 CJK characters are 300 bytes)."""
    base = unicodedata.normalize("NFKC", raw.replace("\\", "/").split("/")[-1])
    base = re.sub(r"\s+", "-", base.strip())
    base = re.sub(r"[^\w.\-]", "", base).lstrip(".-")
    stem, suffix = Path(base).stem, Path(base).suffix[:16]
    stem = stem.encode("utf-8")[: MAX_NAME_BYTES - len(suffix.encode("utf-8"))].decode("utf-8", "ignore")
    return f"{stem or 'document'}{suffix}"


def _free_path(path: Path, taken: set[str] = frozenset()) -> Path:
    """`path`, or `name-2.ext`, `name-3.ext`, … when it exists or its name is `taken`: nothing is overwritten."""
    candidate, n = path, 1
    while candidate.exists() or candidate.name in taken:
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate
