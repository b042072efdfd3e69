"""The Telegram bot end to end: the real Application polling a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import logging
import time

import pytest

from bot import handlers
from bot_harness import TOKEN, assert_telegram_html, running_bot

ADMIN = 4242
ids = itertools.count(10_000)  # every test talks from its own chats and users


@pytest.fixture(scope="module")
def bot(pipeline, tmp_path_factory):
    with running_bot(pipeline, tmp_path_factory.mktemp("bot"), admins=[ADMIN], rate_limit_per_minute=5) as running:
        yield running


@pytest.fixture
def fake(bot):
    return bot[0]


def ask(fake, text: str | None, user: int | None = None, chat: int | None = None, count: int = 1, **kwargs) -> list[dict]:
    """Send a message to the bot; the `count` messages it sends back to that chat."""
    user = user or next(ids)
    chat = chat or user
    before = len(fake.sent("sendMessage", chat))
    fake.push(fake.message_update(text, chat_id=chat, user_id=user, **kwargs))
    return fake.wait_for("sendMessage", chat, count=before + count)[before:]


def keyboard(message: dict) -> list[list[dict]]:
    return message["reply_markup"]["inline_keyboard"]


def test_question_gets_a_cited_html_answer_with_source_and_vote_buttons(fake):
    chat = next(ids)
    [reply] = ask(fake, "When was the Democratic Choice of Kazakhstan movement banned?", chat=chat)
    assert reply["parse_mode"] == "HTML"
    assert_telegram_html(reply["text"])
    assert "13 March 2018 [1]" in reply["text"]
    assert "<b>Sources:</b>\n\n[1] European Parliament motion for a resolution" in reply["text"]
    rows = keyboard(reply)
    assert rows[0][0]["text"] == "📄 1" and rows[0][0]["callback_data"].startswith("src:")
    assert [b["text"] for b in rows[-1]] == ["👍", "👎"]
    assert not fake.sent("sendMessageDraft", chat) and not fake.sent("editMessageText", chat)  # no LLM: no preview


def test_the_short_answer_comes_first_in_bold_above_its_cited_sentence(fake):
    chat = next(ids)
    [reply] = ask(fake, "When did an EU delegation visit Bokayev in detention?", chat=chat)
    assert_telegram_html(reply["text"])
    first, rest = reply["text"].split("\n\n", 1)
    assert first.startswith("<b>") and first.endswith(" [1]</b>") and "November 24, 2017" in first
    assert len(first) < 40  # the date, not the sentence
    assert rest.startswith("We welcome the fact that on November 24, 2017")


def test_typing_is_shown_while_a_slow_answer_is_worked_on(fake, bot):
    class Slow:
        def __getattr__(self, name):
            return getattr(real, name)

        def ask(self, *args, **kwargs):
            time.sleep(1.0)
            return real.ask(*args, **kwargs)

    application = bot[1]
    real = application.bot_data["pipeline"]
    application.bot_data["pipeline"] = Slow()
    chat = next(ids)
    try:
        [reply] = ask(fake, "When was the DVK movement banned?", chat=chat)
    finally:
        application.bot_data["pipeline"] = real
    assert [a["action"] for a in fake.sent("sendChatAction", chat)] == ["typing"]
    assert "13 March 2018" in reply["text"]
    quick = next(ids)
    ask(fake, "When was the DVK movement banned?", chat=quick)
    assert fake.sent("sendChatAction", quick) == []  # an answer in milliseconds needs no "typing…"


def test_source_button_and_source_command_show_the_whole_passage(fake):
    chat = next(ids)
    [reply] = ask(fake, "When was the Democratic Choice of Kazakhstan movement banned?", chat=chat)
    fake.push(fake.callback_update(keyboard(reply)[0][0]["callback_data"], chat_id=chat, user_id=chat))
    passage = fake.wait_for("sendMessage", chat, count=2)[1]["text"]
    assert_telegram_html(passage)
    assert passage.startswith("<b>[1] European Parliament motion for a resolution")
    assert '<a href="https://www.europarl.europa.eu/doceo/document/B-8-2019-0205_EN.html">' in passage
    assert "<blockquote>" in passage and "Kenzhebek Abishev" in passage
    assert fake.wait_for("answerCallbackQuery")
    fake.push(fake.message_update("/source 1", chat_id=chat, user_id=chat))
    assert fake.wait_for("sendMessage", chat, count=3)[2]["text"] == passage
    fake.push(fake.message_update("/source 7", chat_id=chat, user_id=chat))
    assert "Give a source number from 1 to" in fake.wait_for("sendMessage", chat, count=4)[3]["text"]


def test_unanswerable_question_says_so_and_offers_the_closest_passages(fake):
    [reply] = ask(fake, "What is the capital of France?")
    assert "The documents do not answer this question." in reply["text"]
    assert "<b>Closest passages:</b>" in reply["text"]
    assert "not an answer" not in reply["text"]  # nothing comes near enough to quote
    assert len(keyboard(reply)[0]) >= 1


def test_a_declined_question_shows_the_nearest_sentence_quoted_as_not_an_answer(fake):
    [reply] = ask(fake, "When was the human rights dialogue in 2017?")
    text = reply["text"]
    assert_telegram_html(text)
    assert text.startswith("The documents do not answer this question.")
    assert "<i>The nearest the documents come (not an answer):</i>\n\n<blockquote>Ahead of the EU-Kazakhstan Human " \
           "Rights Dialogue in Astana on 29 November 2017" in text
    assert text.index("</blockquote>") < text.index("<b>Closest passages:</b>")
    assert "<b>" not in text.split("<b>Closest passages:</b>")[0]  # no short answer in bold: it is not an answer


def test_follow_up_question_uses_the_previous_one(fake):
    chat = next(ids)
    ask(fake, "Who is Iskander Yerimbetov?", chat=chat)
    [reply] = ask(fake, "and when was he sentenced?", chat=chat)
    assert "October 2018" in reply["text"] or "seven years" in reply["text"]


def test_vote_is_logged_without_user_names_and_buttons_updated(fake, bot):
    chat = next(ids)
    [reply] = ask(fake, "When was the Democratic Choice of Kazakhstan movement banned?", chat=chat)
    vote = keyboard(reply)[-1][1]["callback_data"]
    fake.push(fake.callback_update(vote, chat_id=chat, user_id=chat))
    edits = fake.wait_for("editMessageReplyMarkup", chat)
    assert all("👍" not in b["text"] for row in edits[-1]["reply_markup"]["inline_keyboard"] for b in row)
    log_path = bot[1].bot_data["feedback"].path
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    entry = next(e for e in entries if e["question"].startswith("When was the Democratic Choice"))
    assert entry["vote"] == "down" and "13 March 2018" in entry["answer"]
    assert entry["citations"][0]["doc_id"] == "2019-03-ep-motion-for-resolution-b8-0205-2019.txt"
    assert str(chat) not in json.dumps(entry) and "User" not in json.dumps(entry)
    assert len(entry["voter"]) == 16 and entry["answer_id"] == vote.split(":")[1]


def test_a_vote_changed_back_and_forth_leaves_its_last_one_for_the_eval(fake, bot):
    from index.evaluate.run import feedback_candidates, feedback_log_entries

    chat = next(ids)
    [reply] = ask(fake, "What rank did Kazakhstan have in the 2018 press freedom index?", chat=chat)
    up, down = (b["callback_data"] for b in keyboard(reply)[-1])
    for data in (down, up, down, up):  # the question and four presses: this module's budget of five a minute
        before = len(fake.sent("answerCallbackQuery"))
        fake.push(fake.callback_update(data, chat_id=chat, user_id=chat))
        fake.wait_for("answerCallbackQuery", count=before + 1)
    entries = feedback_log_entries(bot[1].bot_data["feedback"].path)
    mine = [e for e in entries if e["question"].startswith("What rank did Kazakhstan")]
    assert [e["vote"] for e in mine] == ["down", "up", "down", "up"]  # the log keeps each change
    assert not any(c["question"] == mine[0]["question"] for c in feedback_candidates(entries))  # its last is 👍


def test_group_messages_are_answered_only_when_addressed(fake):
    group, user = -next(ids), next(ids)
    fake.push(fake.message_update("When was the DVK movement banned?", chat_id=group, user_id=user, chat_type="group"))
    ask(fake, "@citebot_test_bot When was the DVK movement banned?", user=user, chat=group, chat_type="group")
    ask(fake, "and who was sentenced on 21 December 2018?", user=user, chat=group, chat_type="group",
        reply_to_bot=True)
    ask(fake, "/ask Who is Malik Kenzhaliev?", user=user, chat=group, chat_type="group")
    time.sleep(1.0)  # the unaddressed message had as long as the others to be answered
    replies = fake.sent("sendMessage", group)
    assert len(replies) == 3
    assert "former judge" in replies[2]["text"]
    assert all(json.loads(r["reply_parameters"])["message_id"] if isinstance(r.get("reply_parameters"), str)
               else r["reply_parameters"]["message_id"] for r in replies)  # answers quote their question


def test_odd_messages_get_a_short_explanation(fake):
    user = next(ids)
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 10, "height": 10}]
    sticker = {"file_id": "s1", "file_unique_id": "u2", "width": 512, "height": 512, "is_animated": False,
               "is_video": False, "type": "regular"}
    voice = {"file_id": "v1", "file_unique_id": "u3", "duration": 2}
    document = {"file_id": "d1", "file_unique_id": "u4", "file_name": "report.pdf"}
    for extra in [{"photo": photo}, {"sticker": sticker}, {"voice": voice}, {"document": document}]:
        [reply] = ask(fake, None, user=user, **extra)
        assert reply["text"] == "I can only read text. Please type your question as a message."
    assert ask(fake, "🙂🙂🙂")[0]["text"].startswith("Please ask a question in words")


def test_very_long_message_is_cut_with_a_note(fake):
    [reply] = ask(fake, "When was the DVK movement banned? " + "Please answer. " * 500)
    assert reply["text"].startswith("<i>Your message was long, so I used its first 1000 characters.</i>")
    assert "13 March 2018" in reply["text"]


def test_user_over_the_rate_limit_gets_one_polite_line(fake):
    user = next(ids)
    for _ in range(7):
        fake.push(fake.message_update("When was the DVK movement banned?", chat_id=user, user_id=user))
    replies = fake.wait_for("sendMessage", user, count=6)
    time.sleep(1.0)
    replies = fake.sent("sendMessage", user)
    assert len(replies) == 6
    assert sum("asking faster than I can answer" in r["text"] for r in replies) == 1


def test_thirty_users_asking_at_once_are_all_answered(fake):
    users = [next(ids) for _ in range(30)]
    for user in users:
        fake.push(fake.message_update("What rank did Kazakhstan have in the 2018 press freedom index?",
                                      chat_id=user, user_id=user))
    for user in users:
        [reply] = fake.wait_for("sendMessage", user, timeout=60)
        assert "158th" in reply["text"]


def test_flood_control_retry_after_is_waited_out(fake):
    fake.retry_after_next = 1
    [reply] = ask(fake, "When was the DVK movement banned?")
    assert "13 March 2018" in reply["text"]
    assert fake.retry_after_next == 0


def test_failure_in_a_handler_gets_an_apology_and_the_bot_keeps_serving(fake, bot, caplog):
    class Broken:
        def __getattr__(self, name):
            return getattr(real, name)

        def ask(self, *args, **kwargs):
            raise RuntimeError("the index exploded")

    application = bot[1]
    real = application.bot_data["pipeline"]
    application.bot_data["pipeline"] = Broken()
    try:
        with caplog.at_level(logging.ERROR, logger="bot.handlers"):
            [reply] = ask(fake, "When was the DVK movement banned?")
    finally:
        application.bot_data["pipeline"] = real
    assert reply["text"] == "Sorry, something went wrong while answering. Please try again in a moment."
    assert any(r.exc_info and "the index exploded" in str(r.exc_info[1]) for r in caplog.records)
    assert "13 March 2018" in ask(fake, "When was the DVK movement banned?")[0]["text"]


def test_commands_are_registered_and_answer(fake):
    [commands] = fake.sent("setMyCommands")
    assert [c["command"] for c in commands["commands"]] == ["start", "help", "source", "ask", "stats", "reindex"]
    start = ask(fake, "/start")[0]["text"]
    assert "MEPs address Kazakhstani authorities on political prisoners" in start and "Try asking" in start
    assert "/source N" in ask(fake, "/help")[0]["text"]
    stats = ask(fake, "/stats")[0]["text"]
    assert "Documents: 5" in stats and "Index version: v" in stats
    assert ask(fake, "/reindex")[0]["text"] == "Only the bot's admins can do that."
    replies = ask(fake, "/reindex", user=ADMIN, count=2)
    assert replies[0]["text"] == "Rebuilding the index…"
    assert replies[1]["text"].startswith("Index up to date: 5 documents")


def test_chat_outside_the_allow_list_gets_one_refusal_and_nothing_else(pipeline, tmp_path):
    with running_bot(pipeline, tmp_path, allowed_chats=[5001]) as (fake, _):
        fake.push(fake.message_update("When was the DVK movement banned?", chat_id=5002, user_id=5002))
        fake.push(fake.message_update("/start", chat_id=5002, user_id=5002))
        [answered] = ask(fake, "When was the DVK movement banned?", user=5001)
        time.sleep(1.0)
        assert [m["text"] for m in fake.sent("sendMessage", 5002)] == [
            "Sorry, this bot only answers in the chats it was set up for."]
        assert "13 March 2018" in answered["text"]


def test_every_message_the_bot_sent_is_valid_telegram_html_and_requests_used_the_token(fake):
    sent = fake.sent("sendMessage")
    assert sent
    for message in sent:
        if message.get("parse_mode") == "HTML":
            assert_telegram_html(message["text"])
    assert fake.foreign_paths == []
    assert TOKEN not in json.dumps(fake.sent("sendMessage"))


def test_a_reply_longer_than_telegram_allows_is_split_on_boundaries_without_breaking_html():
    from bot.telegram_render import answer_messages, passage_messages
    from index.schema import Answer, Citation

    sentence = "Kazakhstan’s <opposition> media & bloggers face pressure, says report {}. "
    quote = "".join(sentence.format(i) for i in range(150))
    citations = tuple(Citation(n, f"doc{n}.txt", f"Title <{n}> & co", "2020", "https://example.org/?a=1&b=2",
                               quote, 0.9) for n in range(1, 4))
    answer = Answer("q", " ".join(f"{quote[:300]} [{n}]" for n in range(1, 4)) * 6, True, citations)
    for parts in (answer_messages(answer), passage_messages(citations[0])):
        assert len(parts) > 1
        for part in parts:
            assert_telegram_html(part)
            assert "&lt;opposition&gt; media &amp; bloggers" in part or "Title &lt;" in part or part.startswith("<")
    passage = "".join(passage_messages(citations[0]))
    assert passage.count("Kazakhstan’s &lt;opposition&gt;") == 150  # nothing lost or doubled in the split
    assert '<a href="https://example.org/?a=1&amp;b=2">' in passage


def test_the_token_is_redacted_from_log_messages_and_tracebacks():
    import io

    from bot.telegram_app import RedactToken

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactToken(TOKEN))
    logger = logging.getLogger("citebot-redaction-test")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/getMe failed")
        except RuntimeError:
            logger.error("request to %s failed", f"/bot{TOKEN}/sendMessage", exc_info=True)
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert TOKEN not in written and written.count("<token>") == 2 and "Traceback" in written


def test_a_group_mention_gets_the_answer(fake):
    group, user = -next(ids), next(ids)
    [reply] = ask(fake, "@citebot_test_bot When did an EU delegation visit Bokayev in detention?", user=user,
                  chat=group, chat_type="group")
    assert "November 24, 2017" in reply["text"] and "[1]" in reply["text"]
    assert "do not answer" not in reply["text"]


def test_odd_source_numbers_and_forged_vote_data_get_short_answers(fake, bot):
    chat = next(ids)
    [answer] = ask(fake, "When was the DVK movement banned?", chat=chat)
    for typed in ("/source ²", "/source " + "7" * 5000):
        [reply] = ask(fake, typed, chat=chat)
        assert reply["text"].startswith("Give a source number from 1 to")
    before = len(fake.sent("answerCallbackQuery"))
    vote = keyboard(answer)[-1][1]["callback_data"]
    fake.push(fake.callback_update(vote + "\n", chat_id=chat, user_id=chat))  # "$" matched before the newline
    [reply] = fake.wait_for("answerCallbackQuery", count=before + 1)[before:]
    assert "old" in reply["text"].lower()
    log_path = bot[1].bot_data["feedback"].path
    assert not log_path.exists() or '"down\\n"' not in log_path.read_text()


def test_one_budget_covers_commands_and_buttons_and_spares_other_chats(fake):
    flooder, other = next(ids), next(ids)
    [answer] = ask(fake, "When was the DVK movement banned?", chat=flooder)  # 1 of the 5 a minute
    source = keyboard(answer)[0][0]["callback_data"]
    for _ in range(3):
        fake.push(fake.message_update("/source 1", chat_id=flooder, user_id=flooder))
    for _ in range(3):
        fake.push(fake.callback_update(source, chat_id=flooder, user_id=flooder))
    for _ in range(5):
        fake.push(fake.message_update("/help", chat_id=flooder, user_id=flooder))
    [reply] = ask(fake, "Who is Malik Kenzhaliev?", chat=other)
    assert "former judge" in reply["text"]  # another chat is answered meanwhile
    time.sleep(1.0)
    texts = [m["text"] for m in fake.sent("sendMessage", flooder)]
    refusals = [a for a in fake.sent("answerCallbackQuery") if "asking faster" in str(a.get("text", ""))]
    assert len(texts) <= 6  # five within the budget (the answer and four more), then the one refusal line
    assert sum("asking faster than I can answer" in t for t in texts) + len(refusals) == 1


def test_buttons_belong_to_their_chat_and_a_vote_counts_once_per_user(fake, bot):
    owner, stranger = next(ids), next(ids)
    [answer] = ask(fake, "When was the DVK movement banned?", chat=owner)
    source, vote_down = keyboard(answer)[0][0]["callback_data"], keyboard(answer)[-1][1]["callback_data"]
    vote_up = keyboard(answer)[-1][0]["callback_data"]

    def press(data: str, user: int, inline: bool = False) -> str:
        """Press a button and wait for the bot's answer to it (updates run concurrently)."""
        calls = len(fake.sent("answerCallbackQuery"))
        update = fake.callback_update(data, chat_id=user, user_id=user)
        if inline:  # a button on an inline message: no chat at all
            update["callback_query"].pop("message")
            update["callback_query"]["inline_message_id"] = "inline-1"
        fake.push(update)
        return fake.wait_for("answerCallbackQuery", count=calls + 1)[calls].get("text", "")

    assert press(source, stranger) == handlers.TOO_OLD  # copied into another chat
    assert press(vote_down, stranger) == "That answer is too old to rate."
    assert press(source, owner, inline=True) == handlers.TOO_OLD
    assert [press(vote_down, owner), press(vote_down, owner), press(vote_up, owner)] == [
        "Thanks for the feedback!", "Your vote is already counted.", "Thanks for the feedback!"]
    assert fake.sent("sendMessage", stranger) == []
    entries = [json.loads(line) for line in bot[1].bot_data["feedback"].path.read_text().splitlines()]
    mine = [(e["vote"], e.get("replaces")) for e in entries if e["question"] == "When was the DVK movement banned?"]
    assert mine == [("down", None), ("up", "down")]


def test_an_update_without_a_user_is_answered_within_the_chats_budget(fake):
    chat = next(ids)
    update = fake.message_update("When was the DVK movement banned?", chat_id=chat, user_id=chat)
    update["message"].pop("from")  # as forged updates and some channel posts come
    for sent in range(1, 7):  # one at a time: a sender has one question in flight (the chat stands in for it)
        fake.push(update)
        fake.wait_for("sendMessage", chat, count=sent)
    fake.push(update)
    time.sleep(1.0)  # the seventh had as long as the others to be answered
    texts = [m["text"] for m in fake.sent("sendMessage", chat)]
    assert not any("went wrong" in t.lower() for t in texts)
    assert len(texts) == 6 and sum("13 March 2018" in t for t in texts) == 5  # five answers, in any order,
    assert sum("asking faster than I can answer" in t for t in texts) == 1    # and the one refusal
