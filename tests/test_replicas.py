"""Two `citebot serve` processes on one PostgreSQL index behave as one bot.

Each replica polls its own fake Bot API server, standing for a load balancer that
sends one chat's updates now to one replica, now to the other. The two processes
share nothing but the database.
"""

from __future__ import annotations

import json
import subprocess

import pgserver
import psycopg
import pytest

from bot.handlers import TOO_FAST
from bot_harness import TOKEN
from fake_telegram import FakeTelegram
from index.ingest.build import update_index
from index.settings import Settings
from test_serve import CITEBOT, start_serve, stop


@pytest.fixture
def replicas(embedder, corpus_dir, subprocess_env, tmp_path):
    """Two fake Telegrams, and a `citebot serve` polling each, on one database holding the bundled corpus."""
    server = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop")
    url = server.get_uri()
    update_index(Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "unused", database_url=url), lambda: embedder)
    fakes = [FakeTelegram(TOKEN).start() for _ in range(2)]
    processes = [start_serve(tmp_path / "unused", fake, subprocess_env, CITEBOT_DATABASE_URL=url,
                             CITEBOT_RATE_LIMIT_PER_MINUTE="4", CITEBOT_FEEDBACK_LOG=str(tmp_path / f"fb{n}.jsonl"))
                 for n, fake in enumerate(fakes)]
    try:
        for fake in fakes:
            fake.wait_for("setMyCommands", timeout=120)
        yield fakes, url
    finally:
        logs = [stop(process) for process in processes]
        for fake in fakes:
            fake.stop()
        server.cleanup()
    assert all("Traceback" not in log for log in logs), logs


def ask(fake: FakeTelegram, text: str, chat: int) -> dict:
    before = len(fake.sent("sendMessage", chat))
    fake.push(fake.message_update(text, chat_id=chat, user_id=chat))
    return fake.wait_for("sendMessage", chat, count=before + 1, timeout=60)[before]


def press(fake: FakeTelegram, data: str, chat: int, method: str) -> dict:
    before = len(fake.sent(method))
    fake.push(fake.callback_update(data, chat_id=chat, user_id=chat))
    return fake.wait_for(method, count=before + 1, timeout=60)[before]


def test_replicas_share_answers_votes_follow_ups_and_rate_budgets(replicas, subprocess_env):
    (first, second), url = replicas
    chat = 7001
    reply = ask(first, "When was the Democratic Choice of Kazakhstan movement banned?", chat)
    assert "13 March 2018" in reply["text"]
    buttons = [b["callback_data"] for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    source, vote = buttons[0], buttons[-1]

    passage = press(second, source, chat, "sendMessage")  # the answer was given by the other replica
    assert "13 March 2018" in passage["text"]
    assert press(second, vote, chat, "answerCallbackQuery")["text"] == "Thanks for the feedback!"
    assert press(first, vote, chat, "answerCallbackQuery")["text"] == "Your vote is already counted."
    with psycopg.connect(url) as connection:
        entries = [row[0] for row in connection.execute("SELECT entry FROM citebot_feedback")]
    assert [(e["vote"], e["question"][:30]) for e in entries] == [("down", "When was the Democratic Choice")]
    owner = subprocess.run([CITEBOT, "eval", "--from-feedback"], env={**subprocess_env, "CITEBOT_DATABASE_URL": url},
                           capture_output=True, text=True)  # 👎 answers to turn into eval items, from the database
    assert [json.loads(line)["question"] for line in owner.stdout.splitlines()] == \
        ["When was the Democratic Choice of Kazakhstan movement banned?"], owner.stderr

    follow_up_chat = 7002
    ask(first, "Who is Iskander Yerimbetov?", follow_up_chat)
    reply = ask(second, "and when was he sentenced?", follow_up_chat)
    assert "October 2018" in reply["text"] or "seven years" in reply["text"]

    eager = 7003  # four updates a minute in all, whichever replica takes them
    for fake in (first, second, first, second):
        assert ask(fake, "What did the EU urge Kazakhstan to do?", eager)["text"] != TOO_FAST
    assert ask(first, "What did the EU urge Kazakhstan to do?", eager)["text"] == TOO_FAST


def test_two_hundred_simultaneous_presses_count_one_vote(database_url):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from bot.shared_state import SharedAnswers, SharedState
    from index.schema import Answer

    answers = SharedAnswers(SharedState(database_url).open())
    answer_id = answers.put(Answer("q", "a [1]", True), chat_id=7)
    start = threading.Barrier(50)

    def press(_: int) -> str | None:
        start.wait()  # all at once, as fifty bot threads across replicas pressing together
        return answers.vote(answer_id, 42, "up")

    with ThreadPoolExecutor(50) as pool:
        counted = list(pool.map(press, range(200)))
    assert counted.count("") == 1 and counted.count(None) == 199
    assert answers.vote(answer_id, 42, "down") == "up"  # a change replaces the vote
    assert answers.vote(answer_id, 42, "down") is None
    with psycopg.connect(database_url) as connection:
        assert connection.execute("SELECT count(*), min(vote) FROM citebot_votes").fetchone() == (1, "down")


@pytest.fixture(params=["memory", "postgres"])
def capped_answers(request):
    """Both stores of recent answers, capped at 5 per chat and 12 in all."""
    from bot.state import AnswerCache

    if request.param == "memory":
        return AnswerCache(capacity=12, per_chat=5)
    from bot.shared_state import SharedAnswers, SharedState

    return SharedAnswers(SharedState(request.getfixturevalue("database_url")).open(), per_chat=5, kept=12)


def test_one_chat_flooding_ages_out_its_own_answers_not_other_chats(capped_answers):
    from index.schema import Answer

    quiet = [capped_answers.put(Answer(f"q{i}", "a [1]", True), chat_id=1) for i in range(3)]
    flood = [capped_answers.put(Answer(f"f{i}", "a [1]", True), chat_id=2) for i in range(40)]
    assert all(capped_answers.get(a, 1) is not None for a in quiet)  # the other chat's buttons still work
    assert [capped_answers.get(a, 2) is not None for a in flood] == [False] * 35 + [True] * 5
    for chat in (3, 4):  # 16 answers kept per chat, 12 in all: the oldest four overall go
        for i in range(4):
            capped_answers.put(Answer(f"c{chat}-{i}", "a [1]", True), chat_id=chat)
    assert [capped_answers.get(a, 1) for a in quiet] == [None] * 3 and capped_answers.get(flood[35], 2) is None
    assert all(capped_answers.get(a, 2) is not None for a in flood[36:])


def test_a_vote_changed_in_the_database_is_one_entry_holding_the_last_vote(database_url):
    from bot.shared_state import SharedFeedback, SharedState
    from index.schema import Answer

    feedback = SharedFeedback(SharedState(database_url).open())
    answer = Answer("Who is X?", "Y [1]", True)
    for vote, replaces in (("down", ""), ("up", "down"), ("down", "up")):
        feedback.record(answer, vote, replaces, answer_id="a1b2c3d4", voter="k1")
    feedback.record(answer, "up", "", answer_id="a1b2c3d4", voter="k2")
    assert sorted((e["voter"], e["vote"]) for e in feedback.entries()) == [("k1", "down"), ("k2", "up")]
