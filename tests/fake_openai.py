"""A fake OpenAI-compatible chat endpoint on 127.0.0.1: the stand-in for an LLM, which cannot run here.

It answers /v1/chat/completions with scripted replies and records the prompts it got.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from http_reply import send_json


class FakeOpenAI:
    def __init__(self) -> None:
        self.replies: list[str] = []  # popped in order; the last one repeats
        self.prompts: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        self.prompts.append("\n".join(m["content"] for m in request["messages"] if isinstance(m.get("content"), str)))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": request.get("model", "fake"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.endswith("/chat/completions"):
                    send_json(self, 200, fake._complete(json.loads(body)))
                else:
                    send_json(self, 404, {"error": {"message": "not found"}})

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
