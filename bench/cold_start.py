"""Cold start: a fresh `citebot ask` process, and `citebot serve` from launch to its first answer.

Baselines in the same run: a bare `python -c pass`, and `import sentence_transformers`
(what every cold start paid before questions went through the ONNX export). The
torch path is measured too (CITEBOT_ONNX=false). The bot polls a fake Bot API on
127.0.0.1 (tests/fake_telegram.py) that holds a question from the start; the time
runs from launching the process to the arrival of its sendMessage.

    .venv/bin/python bench/cold_start.py [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bot_harness import TOKEN  # noqa: E402
from fake_telegram import FakeTelegram  # noqa: E402

QUESTION = "When was the DVK movement banned?"
CITEBOT = str(Path(sys.executable).with_name("citebot"))


def seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def bot_first_answer(index_dir: Path, env: dict[str, str]) -> float:
    fake = FakeTelegram(TOKEN).start()
    fake.push(fake.message_update(QUESTION, chat_id=7, user_id=7))  # waiting before the bot starts
    env = {**env, "TELEGRAM_BOT_TOKEN": TOKEN, "CITEBOT_TELEGRAM_API_URL": fake.api_url,
           "NO_PROXY": "127.0.0.1,localhost"}
    start = time.perf_counter()
    process = subprocess.Popen([CITEBOT, "serve", "--index-dir", str(index_dir)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        fake.wait_for("sendMessage", 7, timeout=120)
        return time.perf_counter() - start
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measurement (median)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    index_dir = ROOT / ".citebot" / "index"
    subprocess.run([CITEBOT, "index", "--index-dir", str(index_dir)], check=True, capture_output=True, env=env, cwd=ROOT)
    torch_env = {**env, "CITEBOT_ONNX": "false"}
    measurements = {
        "python -c pass": lambda: seconds([sys.executable, "-c", "pass"], env),
        "import sentence_transformers": lambda: seconds([sys.executable, "-c", "import sentence_transformers"], env),
        "citebot ask": lambda: seconds([CITEBOT, "ask", "--index-dir", str(index_dir), QUESTION], env),
        "citebot ask (torch)": lambda: seconds([CITEBOT, "ask", "--index-dir", str(index_dir), QUESTION], torch_env),
        "bot: launch to first answer": lambda: bot_first_answer(index_dir, env),
        "bot: launch to first answer (torch)": lambda: bot_first_answer(index_dir, torch_env),
    }
    result = {name: statistics.median(measure() for _ in range(args.runs)) for name, measure in measurements.items()}
    for name, value in result.items():
        print(f"  {name:38s} {value:6.2f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
