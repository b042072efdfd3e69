"""A GGUF model run inside citebot by llama.cpp, through xllamacpp (the llm extra): no server to run.

xllamacpp's Server answers OpenAI-style requests in process (`handle_chat_completions`); it also opens
an HTTP port, which is bound to loopback here and never announced.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import SimpleNamespace

CONTEXT_TOKENS = 4096  # five passages of 200 tokens and the instructions fit with room for the reply
REPLY_TOKENS = 320


class GgufLlm:
    """`complete(prompt).text`, as llama-index's LLMs give it, from a local GGUF file."""

    def __init__(self, path: Path) -> None:
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
        params.n_predict = REPLY_TOKENS
        params.cpuparams.n_threads = os.cpu_count() or 1
        params.hostnames = ["127.0.0.1"]
        params.port = _free_port()
        params.warmup = False
        params.verbosity = -1  # llama.cpp's own log would go to stderr line by line
        self._server = xllamacpp.Server(params)

    def complete(self, prompt: str) -> SimpleNamespace:
        reply = self._server.handle_chat_completions({"messages": [{"role": "user", "content": prompt}],
                                                      "temperature": 0.0, "max_tokens": REPLY_TOKENS})
        if "error" in reply:
            raise RuntimeError(f"llama.cpp: {reply['error']}")
        return SimpleNamespace(text=reply["choices"][0]["message"]["content"] or "")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
