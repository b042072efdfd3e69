"""What the Telegram layer adds: update delivered to reply sent, against in-process `ask`.

The real bot polls a fake Bot API server on 127.0.0.1 (tests/fake_telegram.py); the
time is taken from the moment getUpdates hands out an update to the moment the
bot's sendMessage for it arrives. Measured with 1 chat at a time and 30 at once.

    .venv/bin/python bench/bot_latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from index.evaluate.run import percentile  # noqa: E402
from bench.common import open_pipeline  # noqa: E402
from bot_harness import running_bot  # noqa: E402

chats = itertools.count(1)


def reply_latency(fake, question: str, chat: int) -> float:
    update_id = fake.push(fake.message_update(question, chat_id=chat, user_id=chat))
    fake.wait_for("sendMessage", chat, timeout=120)
    sent_at = next(t for m, p, t in fake.calls if m == "sendMessage" and int(p["chat_id"]) == chat)
    return sent_at - fake.delivered_at(update_id)


def concurrent_latencies(fake, questions: list[str]) -> list[float]:
    pushed = [(fake.push(fake.message_update(q, chat_id=c, user_id=c)), c)
              for q, c in zip(questions, (next(chats) for _ in questions))]
    for _, chat in pushed:
        fake.wait_for("sendMessage", chat, timeout=120)
    sent = {int(p["chat_id"]): t for m, p, t in fake.calls if m == "sendMessage"}
    return [sent[chat] - fake.delivered_at(update_id) for update_id, chat in pushed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "eval/qa.jsonl").read_text().splitlines() if line]
    pipeline = open_pipeline(rate_limit_per_minute=10_000)
    for question in questions[:5]:
        pipeline.ask(question)
    in_process = []
    for _ in range(args.rounds):
        for question in questions:
            start = time.perf_counter()
            pipeline.ask(question)
            in_process.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as scratch, running_bot(pipeline, Path(scratch)) as (fake, _):
        reply_latency(fake, questions[0], next(chats))  # warm the HTTP connections
        single = [reply_latency(fake, q, next(chats)) for _ in range(args.rounds) for q in questions[:30]]
        burst = [t for _ in range(args.rounds) for t in concurrent_latencies(fake, questions[:30])]
    rows = [("ask in process", in_process), ("bot, 1 chat at a time", single), ("bot, 30 chats at once", burst)]
    print(f"{len(questions)} eval questions; {args.rounds} rounds; fake Bot API on 127.0.0.1")
    print("                               p50 ms   p95 ms")
    for name, values in rows:
        print(f"  {name:26s} {percentile(values, .5) * 1000:7.1f}  {percentile(values, .95) * 1000:7.1f}")
    overhead = statistics.median(single) - statistics.median(in_process)
    print(f"  Telegram layer adds (p50, 1 chat): {overhead * 1000:.1f} ms "
          f"({statistics.median(single) / statistics.median(in_process):.2f}x the in-process ask)")
    print("  30 chats at once are paced by Telegram's flood limit, 30 messages/s (AIORateLimiter):\n"
          "  the 30th reply cannot leave before about one second.")


if __name__ == "__main__":
    main()
