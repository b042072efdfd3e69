"""A GGUF model run inside citebot by llama.cpp, through xllamacpp (the llm extra): no server to run.

xllamacpp's Server answers OpenAI-style requests in process (`handle_chat_completions`); it also opens
an HTTP port, bound to loopback here and never announced, and locked with a random API key that only this
process knows: without it any local user could ask the model, or read its slots and props.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONTEXT_TOKENS = 4096  # five passages of 200 tokens and the instructions fit with room for the reply


class GgufLlm:
    """A local GGUF file's reply to a prompt, streamed piece by piece."""

    def __init__(self, path: Path, reply_tokens: int) -> None:
        from index.answer.llm import LlmUnavailable

        if not path.is_file():
            raise LlmUnavailable(f"no GGUF model at {path} (CITEBOT_LLM_MODEL_PATH)")
        try:
            import xllamacpp
        except ImportError:
            raise LlmUnavailable("a GGUF model needs the llm extra: pip install -e '.[llm]'") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = CONTEXT_TOKENS
        params.n_predict = reply_tokens
        params.cpuparams.n_threads = os.cpu_count() or 1
        params.hostnames = ["127.0.0.1"]
        params.port = _free_port()
        params.api_keys = [secrets.token_urlsafe(32)]  # in-process calls do not go through HTTP and need none
        self.port = params.port
        params.warmup = False
        params.verbosity = -1  # llama.cpp's own log would go to stderr line by line
        self._reply_tokens = reply_tokens
        self._server = xllamacpp.Server(params)

    def generate(self, prompt: str, take: Callable[[str], bool]) -> None:
        """Stream the reply into `take` until it ends or `take` returns True (llama.cpp then stops)."""
        failures: list[BaseException | str] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            # llama.cpp calls this from C++, which swallows exceptions: keep them, and stop the generation.
            try:
                if "error" in chunk:
                    failures.append(str(chunk["error"].get("message", chunk["error"])))
                    return True
                pieces = [c.get("delta", {}).get("content") or "" for c in chunk.get("choices", ())]
                return any(take(piece) for piece in pieces if piece)
            except BaseException as error:  # noqa: BLE001 - re-raised below, in the caller's thread
                failures.append(error)
                return True

        self._server.handle_chat_completions({"messages": [{"role": "user", "content": prompt}], "stream": True,
                                              "temperature": 0.0, "max_tokens": self._reply_tokens}, on_chunk)
        if failures and isinstance(failures[0], BaseException):
            raise failures[0]
        if failures:
            raise RuntimeError(f"llama.cpp: {failures[0]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
