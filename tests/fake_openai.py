"""A fake OpenAI-compatible chat endpoint on 127.0.0.1: the stand-in for an LLM, which cannot run here.

It answers /v1/chat/completions with scripted replies and records the prompts it got. Asked to stream,
it sends the reply word by word as server-sent events, `chunk_delay` seconds apart, as a model writes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from http_reply import send_json


class FakeOpenAI:
    def __init__(self) -> None:
        self.replies: list[str] = []  # popped in order; the last one repeats
        self.prompts: list[str] = []
        self.chunk_delay = 0.0  # seconds between two streamed pieces
        self.streamed_at: list[float] = []  # when each streamed piece left, time.monotonic()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, request: dict[str, Any]) -> str:
        self.prompts.append("\n".join(m["content"] for m in request["messages"] if isinstance(m.get("content"), str)))
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = self._reply(request)
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": request.get("model", "fake"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = json.loads(body) if self.path.endswith("/chat/completions") else None
                if request is not None and request.get("stream"):
                    self._stream(fake._reply(request), request.get("model", "fake"))
                elif request is not None:
                    send_json(self, 200, fake._complete(request))
                else:
                    send_json(self, 404, {"error": {"message": "not found"}})

            def _stream(self, reply: str, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = [{"role": "assistant", "content": ""}] + [{"content": p} for p in re.findall(r"\s*\S+", reply)]
                for delta in pieces:
                    time.sleep(fake.chunk_delay)
                    chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                             "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    try:
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    except OSError:  # the client has read enough and closed the stream
                        return
                    fake.streamed_at.append(time.monotonic())
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
