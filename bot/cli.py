"""The `citebot` command: build the index, ask questions, chat. Errors become one clean line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

# httpx logs request URLs, and Telegram's URLs contain the bot token; pypdf warns about damaged
# files that the index report already names.
QUIET_LOGGERS = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "sentence_transformers": logging.WARNING,
                 "transformers": logging.WARNING, "faiss": logging.WARNING, "bm25s": logging.WARNING,
                 "urllib3": logging.WARNING, "telegram": logging.WARNING, "apscheduler": logging.WARNING,
                 "pypdf": logging.ERROR, "ray": logging.WARNING,
                 # The eval's baseline reads txt and md itself; this warns about formats it would need a plugin for.
                 "llama_index.core.readers.file.base": logging.ERROR}


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `citebot ask ... | head` closed the pipe: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # the boundary: known failures become one line, bugs keep their traceback
        message = _known_error_message(error)
        if message is None:
            raise
        print(f"citebot: error: {message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, default=argparse.SUPPRESS, help="corpus folder (CITEBOT_CORPUS_DIR)")
    common.add_argument("--index-dir", type=Path, default=argparse.SUPPRESS, help="index folder (CITEBOT_INDEX_DIR)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress")
    parser = argparse.ArgumentParser(prog="citebot", parents=[common],
                                     description="Answers questions over a document corpus, citing its passages.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = commands.add_parser("index", parents=[common], help="build or update the index from the corpus")
    build.add_argument("--json", action="store_true", help="print the report as JSON")
    build.add_argument("--strict", action="store_true", help="exit with status 1 if any document failed")
    build.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="embed new passages on a Ray cluster (CITEBOT_RAY_ADDRESS); without ADDRESS a local one")
    build.set_defaults(run=_cmd_index)
    ask = commands.add_parser("ask", parents=[common], help="answer one question (or a batch)")
    ask.add_argument("question", nargs="*", help="the question")
    ask.add_argument("--json", action="store_true", help="print a JSON object per answer")
    ask.add_argument("--batch", metavar="FILE", help="answer one question per line of FILE ('-' for standard input)")
    ask.set_defaults(run=_cmd_ask)
    chat = commands.add_parser("chat", parents=[common], help="ask questions in a terminal chat")
    chat.set_defaults(run=_cmd_chat)
    evaluation = commands.add_parser("eval", parents=[common], help="measure answer quality on question/answer pairs")
    from bot.eval_command import add_arguments

    add_arguments(evaluation)
    evaluation.set_defaults(run=_cmd_eval)
    train = commands.add_parser("train", parents=[common], help="fit the answer scorer on labelled questions")
    from bot.train_command import add_arguments as add_train_arguments

    add_train_arguments(train)
    train.set_defaults(run=_cmd_train)
    serve = commands.add_parser("serve", parents=[common],
                                help="run the Telegram bot (TELEGRAM_BOT_TOKEN set) or else the terminal chat")
    serve.set_defaults(run=_cmd_serve)
    parser.set_defaults(verbose=False)
    return parser


def _settings(args: argparse.Namespace):
    from index.settings import Settings

    overrides = {}
    if getattr(args, "corpus", None) is not None:
        overrides["corpus_dir"] = args.corpus
    if getattr(args, "index_dir", None) is not None:
        overrides["index_dir"] = args.index_dir
    return Settings(**overrides)


def _cmd_index(args: argparse.Namespace) -> int:
    from functools import cache

    from index.ingest.build import update_index
    from index.embed.embedder import BUNDLED_MODEL_ID, Embedder
    from index.embed.encoders import open_encoder
    from index.embed.onnx_encoder import ensure_onnx_encoder

    settings = _settings(args)
    encoder = cache(lambda: open_encoder(settings, export_if_missing=True))  # loaded once, if at all
    ray_address = args.ray or settings.ray_address
    report_out = sys.stdout
    if ray_address:
        from index.embed.ray_embed import RayEncoder

        local = encoder
        encoder = cache(lambda: RayEncoder(local(), settings, ray_address))
        # Ray's driver prints its cluster's error messages ("a worker died": memory pressure, a lost node) to
        # sys.stdout, from a thread, at any time, the report's JSON written or not: stdout stays the report's.
        sys.stdout = sys.stderr
    report = update_index(settings, encoder, show_progress=not args.json and sys.stderr.isatty())
    if settings.onnx:  # the export serves `citebot ask` and the bot even when nothing needed embedding
        ensure_onnx_encoder(settings.index_dir, settings.embed_model or BUNDLED_MODEL_ID,
                            lambda: Embedder(settings.embed_model, settings.embed_batch_size))
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else report.summary(), file=report_out,
          flush=True)
    return 1 if args.strict and report.failed else 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from bot.render import StreamedAnswer, render_answer
    from index.pipeline import EmptyQuestion, Pipeline, normalise_question

    if args.batch is None:
        if not args.json:
            normalise_question(" ".join(args.question))  # fails fast, before any loading
        questions: Iterator[str] = iter([" ".join(args.question)])
    elif args.question:
        raise CliError("give either a question or --batch FILE, not both")
    else:
        questions = _nonblank(_open_batch(args.batch))  # opened now: a missing file is reported first
    pipeline = None
    refused = 0
    for question in questions:
        try:
            question = normalise_question(question)
        except EmptyQuestion as error:  # one bad line of a batch costs that line, not the rest
            refused += 1
            _refuse(question, str(error), args.json)
            continue
        pipeline = pipeline or Pipeline.open(_settings(args))
        if args.json:
            print(json.dumps(pipeline.ask(question).to_json(), ensure_ascii=False), flush=True)
            continue
        streamed = StreamedAnswer(lambda text: print(text, end="", flush=True))  # an LLM's checked sentences
        answer = pipeline.ask(question, on_text=streamed)
        print(streamed.rest(render_answer(answer, pipeline.prompts)) + ("\n" if args.batch else ""), flush=True)
    return 1 if refused else 0


def _refuse(question: str, reason: str, as_json: bool) -> None:
    """Report a question that cannot be asked: a JSON object for scripts, else a line on stderr."""
    if as_json:
        print(json.dumps({"question": question, "error": reason}, ensure_ascii=False), flush=True)
    else:
        print(f"citebot: error: {question!r}: {reason}", file=sys.stderr)


def _open_batch(name: str) -> TextIO:
    if name == "-":
        return sys.stdin
    path = Path(name)
    if not path.is_file():
        raise CliError(f"batch file {name} does not exist")
    return open(path, encoding="utf-8")


def _nonblank(lines: TextIO) -> Iterator[str]:
    with lines:
        yield from (line.strip() for line in lines if line.strip())


def _cmd_chat(args: argparse.Namespace) -> int:
    from bot.chat import run_chat
    from index.pipeline import Pipeline

    pipeline = Pipeline.open(_settings(args))
    run_chat(pipeline)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from bot.eval_command import run

    return run(args, _settings(args))


def _cmd_train(args: argparse.Namespace) -> int:
    from bot.train_command import run

    return run(args, _settings(args))


def _cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.telegram_bot_token.get_secret_value():
        print("No TELEGRAM_BOT_TOKEN set: opening the terminal chat instead.", file=sys.stderr)
        return _cmd_chat(args)
    os.environ.setdefault("PTB_TIMEDELTA", "1")  # opt in to python-telegram-bot's coming timedelta durations
    from telegram.error import InvalidToken, NetworkError

    from bot.telegram_app import run_bot

    logging.getLogger("bot").setLevel(logging.INFO)  # a server says that it is serving
    token = settings.telegram_bot_token.get_secret_value()
    try:
        run_bot(settings)
    except InvalidToken:  # its message quotes the token: never print it
        raise CliError("Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN (from @BotFather)") from None
    except NetworkError as error:
        detail = str(error).replace(token, "<token>")
        raise CliError(f"cannot reach the Telegram Bot API at {settings.telegram_api_url} ({detail})") from None
    return 0


def _known_error_message(error: Exception) -> str | None:
    from pydantic import ValidationError

    from index.ingest.build import CorpusError
    from index.embed.embedder import ModelLoadError
    from index.pipeline import EmptyQuestion
    from index.answer.prompts import PromptError
    from bot.eval_command import EvalError
    from index.answer.llm import LlmUnavailable
    from index.evaluate.datasets import DatasetError
    from index.answer.scorer import ScorerError
    from index.reader.model import ReaderError
    from index.store.files import BuildBusy, IndexDamaged, IndexMismatch, IndexMissing, IndexWriteError
    from index.embed.ray_embed import RayUnavailable
    from index.store.connections import StoreUnavailable

    known = (CliError, CorpusError, ModelLoadError, EmptyQuestion, PromptError, IndexMismatch, IndexMissing, IndexDamaged,
             BuildBusy, IndexWriteError, EvalError, LlmUnavailable, ScorerError, DatasetError, RayUnavailable,
             StoreUnavailable, ReaderError)
    if isinstance(error, known):
        return str(error)
    if isinstance(error, ValidationError):
        fields = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return f"invalid setting ({fields})"
    if isinstance(error, UnicodeDecodeError):
        return f"input is not UTF-8 text ({error.reason})"
    return None


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
