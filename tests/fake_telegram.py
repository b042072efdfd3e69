"""A fake Telegram Bot API server on 127.0.0.1: the stand-in for Telegram's servers, which tests cannot reach.

It speaks the Bot API's HTTP shape (POST /bot<token>/<method>, form-encoded or JSON
parameters, `{"ok": true, "result": ...}` replies), hands out queued updates through
long-polled getUpdates, and records every call the bot makes.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from http_reply import send_json

BOT_USER = {"id": 777000111, "is_bot": True, "first_name": "citebot", "username": "citebot_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
LONG_POLL_CAP = 0.5  # seconds getUpdates waits for an update, at most


class FakeTelegram:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any], float]] = []  # (method, params, time)
        self.foreign_paths: list[str] = []  # requests not under /bot<token>/
        self._updates: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self.retry_after_next: int = 0  # answer the next N sendMessage calls with 429 RetryAfter
        self.files: dict[str, bytes] = {}  # file_id -> content, served by getFile and the file URL
        self.messages: dict[tuple[int, int], str] = {}  # (chat_id, message_id) -> text of what the bot sent
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what tests do ---------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for the bot's next getUpdates; returns its update_id."""
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            update.setdefault("_delivered_at", None)
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def message_update(self, text: str | None, chat_id: int, user_id: int, chat_type: str = "private",
                       reply_to_bot: bool = False, **extra: Any) -> dict[str, Any]:
        chat = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Test group"
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                                   "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}, **extra}
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if reply_to_bot:
            message["reply_to_message"] = {"message_id": 1, "date": int(time.time()), "chat": chat, "from": BOT_USER,
                                           "text": "An earlier answer [1]"}
        return {"message": message}

    def document_update(self, file_name: str, content: bytes, chat_id: int, user_id: int) -> dict[str, Any]:
        file_id = f"f{next(self._message_ids)}"
        self.files[file_id] = content
        document = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_name": file_name,
                    "file_size": len(content)}
        return self.message_update(None, chat_id=chat_id, user_id=user_id, document=document)

    def photo_update(self, content: bytes, width: int, height: int, chat_id: int, user_id: int) -> dict[str, Any]:
        """A photo as Telegram sends it: the sizes it made, smallest first (here a thumbnail and the photo)."""
        file_id = f"f{next(self._message_ids)}"
        self.files[file_id] = content
        self.files[f"{file_id}-thumb"] = b"thumbnail"
        sizes = [{"file_id": f"{file_id}-thumb", "file_unique_id": f"t-{file_id}", "width": 90, "height": 120,
                  "file_size": 9},
                 {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": width, "height": height,
                  "file_size": len(content)}]
        return self.message_update(None, chat_id=chat_id, user_id=user_id, photo=sizes)

    def callback_update(self, data: str, chat_id: int, user_id: int, message_id: int = 1) -> dict[str, Any]:
        message = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                   "from": BOT_USER, "text": "An answer [1]"}
        return {"callback_query": {"id": str(next(self._message_ids)), "chat_instance": "ci", "data": data,
                                   "from": {"id": user_id, "is_bot": False, "first_name": "User"}, "message": message}}

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [p for m, p, _ in self.calls if m == method and (chat_id is None or int(p.get("chat_id", 0)) == chat_id)]

    def wait_for(self, method: str, chat_id: int | None = None, count: int = 1, timeout: float = 30.0) -> list[dict]:
        """The bot's calls of `method` to `chat_id`, once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.sent(method, chat_id)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"bot made {len(self.sent(method, chat_id))} {method} calls to {chat_id}, "
                                         f"expected {count}; calls so far: {[m for m, _, _ in self.calls]}")
                self._cond.wait(left)
            return self.sent(method, chat_id)

    def delivered_at(self, update_id: int) -> float | None:
        with self._cond:
            return next((u["_delivered_at"] for u in self._updates if u["update_id"] == update_id), None)

    # -- the server side -------------------------------------------------------------------
    def _handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._cond:
            self.calls.append((method, params, time.monotonic()))
            self._cond.notify_all()
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        if method == "sendMessage" and self.retry_after_next > 0:
            self.retry_after_next -= 1
            return 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                         "parameters": {"retry_after": 1}}
        if method == "getMe":
            return 200, {"ok": True, "result": BOT_USER}
        if method == "getFile":
            file_id = params["file_id"]
            return 200, {"ok": True, "result": {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                                                "file_size": len(self.files[file_id]),
                                                "file_path": f"documents/{file_id}"}}
        if method == "sendMessageDraft":
            return self._draft(params)
        if method == "editMessageText":
            return self._edit(params)
        if method in ("sendMessage", "editMessageReplyMarkup"):
            return 200, {"ok": True, "result": self._message(params)}
        return 200, {"ok": True, "result": True}

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), LONG_POLL_CAP)
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                ready = [u for u in self._updates if u["update_id"] >= offset]
                if ready or time.monotonic() >= deadline:
                    break
                self._cond.wait(deadline - time.monotonic())
            now = time.monotonic()
            for update in ready:
                update["_delivered_at"] = update["_delivered_at"] or now
            return [{k: v for k, v in u.items() if not k.startswith("_")} for u in ready]

    def _message(self, params: dict[str, Any], message_id: int | None = None) -> dict[str, Any]:
        chat_id = int(params.get("chat_id") or 0)
        message = {"message_id": message_id or next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}, "from": BOT_USER}
        if "text" in params:
            message["text"] = params["text"]
            with self._cond:
                self.messages[(chat_id, message["message_id"])] = params["text"]
        return message

    def _draft(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """sendMessageDraft, checked as the Bot API does: private chats only, a non-zero draft id, 4096 characters."""
        if int(params.get("chat_id") or 0) <= 0:
            return _bad_request("message drafts can be sent only to private chats")
        if not str(params.get("draft_id", "")).lstrip("-").isdigit() or int(params["draft_id"]) == 0:
            return _bad_request("draft_id must be a non-zero integer")
        if len(params.get("text") or "") > 4096:
            return _bad_request("message is too long")
        return 200, {"ok": True, "result": True}

    def _edit(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """editMessageText of a message the bot sent, with new text, as the Bot API insists."""
        key = (int(params.get("chat_id") or 0), int(params.get("message_id") or 0))
        with self._cond:
            current = self.messages.get(key)
        if current is None:
            return _bad_request("message to edit not found")
        if current == params.get("text"):
            return _bad_request("message is not modified")
        return 200, {"ok": True, "result": self._message(params, message_id=key[1])}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as httpx's connection pool expects

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as two writes; without this, Nagle's algorithm and
                # delayed ACKs hold each reply back ~40 ms, a delay Telegram itself does not add.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                prefix = f"/bot{fake.token}/"
                if not self.path.startswith(prefix):
                    fake.foreign_paths.append(self.path)
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                self._reply(*fake._handle(self.path[len(prefix):], _parse(self.headers.get("Content-Type", ""), body)))

            def do_GET(self) -> None:  # noqa: N802 (the http.server name): file downloads
                prefix = f"/file/bot{fake.token}/documents/"
                path = unquote(self.path)  # httpx sends the token's ':' as %3A
                content = fake.files.get(path[len(prefix):]) if path.startswith(prefix) else None
                if content is None:
                    fake.foreign_paths.append(self.path)
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                send_json(self, status, payload)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 resets connections when 30 chats are answered at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a bot that stops mid-long-poll is normal
            super().handle_error(request, client_address)


def _bad_request(description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}


def _parse(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if "application/json" in content_type:
        return json.loads(body)
    fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    for key in ("reply_markup", "commands", "link_preview_options"):
        if key in fields:
            fields[key] = json.loads(fields[key])
    return fields
