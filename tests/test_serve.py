"""`citebot serve` as the owner runs it: polling or webhook, the token never in its logs."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from bot_harness import TOKEN
from fake_telegram import FakeTelegram

CITEBOT = str(Path(sys.executable).with_name("citebot"))


def start_serve(built_index: Path, fake: FakeTelegram, env: dict[str, str], **settings: str) -> subprocess.Popen:
    env = {**env, "TELEGRAM_BOT_TOKEN": TOKEN, "CITEBOT_TELEGRAM_API_URL": fake.api_url,
           "NO_PROXY": "127.0.0.1,localhost", **settings}
    return subprocess.Popen([CITEBOT, "serve", "-v", "--index-dir", str(built_index)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    return stderr


def test_serve_polls_answers_and_keeps_the_token_out_of_its_logs(built_index, subprocess_env, tmp_path):
    fake = FakeTelegram(TOKEN).start()
    process = start_serve(built_index, fake, subprocess_env, CITEBOT_FEEDBACK_LOG=str(tmp_path / "fb.jsonl"))
    try:
        fake.wait_for("setMyCommands", timeout=120)  # the model and index loaded in post_init
        fake.push(fake.message_update("When was the DVK movement banned?", chat_id=31, user_id=31))
        [reply] = fake.wait_for("sendMessage", 31, timeout=60)
    finally:
        stderr = stop(process)
        fake.stop()
    assert "13 March 2018" in reply["text"]
    assert "serving @citebot_test_bot: 5 documents" in stderr
    assert TOKEN not in stderr and TOKEN.split(":")[1] not in stderr
    assert "Traceback" not in stderr


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("configured", ["s3cret", ""])  # "": one is generated, never none at all
def test_serve_with_a_webhook_url_takes_updates_by_webhook(built_index, subprocess_env, tmp_path, configured):
    fake = FakeTelegram(TOKEN).start()
    port = free_port()
    process = start_serve(built_index, fake, subprocess_env, CITEBOT_WEBHOOK_URL="https://bot.example.org/telegram",
                          CITEBOT_WEBHOOK_PORT=str(port), CITEBOT_WEBHOOK_SECRET=configured,
                          CITEBOT_FEEDBACK_LOG=str(tmp_path / "fb.jsonl"))
    try:
        [registered] = fake.wait_for("setWebhook", timeout=120)
        secret = configured or registered["secret_token"]
        fake.wait_for("setMyCommands", timeout=60)
        wait_for_port(port)
        update = {"update_id": 1, **fake.message_update("When was the DVK movement banned?", chat_id=32, user_id=32)}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/telegram", data=json.dumps(update).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "X-Telegram-Bot-Api-Secret-Token": secret})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        [reply] = fake.wait_for("sendMessage", 32, timeout=60)
        forged = urllib.request.Request(f"http://127.0.0.1:{port}/telegram", data=json.dumps(update).encode(),
                                        headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(forged, timeout=10)
            forged_status = 200
        except urllib.error.HTTPError as error:
            forged_status = error.code
    finally:
        stderr = stop(process)
        fake.stop()
    assert registered["url"] == "https://bot.example.org/telegram"
    assert registered["secret_token"] == configured if configured else len(secret) >= 32
    assert "13 March 2018" in reply["text"]
    assert forged_status == 403  # an update without the secret is refused
    assert TOKEN not in stderr and secret not in stderr


@pytest.mark.parametrize("problem", ["wrong token", "no Bot API"])
def test_serve_that_cannot_start_says_why_in_one_line_without_the_token(built_index, subprocess_env, problem):
    fake = FakeTelegram("999:the-right-token").start()  # the bot's TOKEN is not this one
    api = fake.api_url if problem == "wrong token" else "http://127.0.0.1:9/bot"
    env = {**subprocess_env, "TELEGRAM_BOT_TOKEN": TOKEN, "CITEBOT_TELEGRAM_API_URL": api, "NO_PROXY": "127.0.0.1"}
    try:
        result = subprocess.run([CITEBOT, "serve", "--index-dir", str(built_index)], env=env, text=True,
                                capture_output=True, timeout=120)
    finally:
        fake.stop()
    assert result.returncode == 1
    expected = ("Telegram rejected the bot token" if problem == "wrong token"
                else "cannot reach the Telegram Bot API at http://127.0.0.1:9/bot")
    assert result.stderr.startswith(f"citebot: error: {expected}") and result.stderr.count("\n") == 1
    assert TOKEN.split(":")[1] not in result.stderr
