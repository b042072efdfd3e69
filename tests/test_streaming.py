"""An LLM's answer reaches the user sentence by sentence, each only after it passed the support check.

The LLM is the fake OpenAI-compatible endpoint (tests/fake_openai.py), streaming its scripted reply
word by word; tests/test_llm_real.py streams a real model. Telegram is the fake Bot API server.
"""

from __future__ import annotations

import io
import random
import sys
import time

from bot.live_reply import DRAFT_INTERVAL, EDIT_INTERVAL, GROWING
from bot_harness import assert_telegram_html, running_bot
from index.answer.reply import CheckedReply

QUESTION = "When was the Democratic Choice of Kazakhstan movement banned?"
BANNED = "The DVK movement was banned on 13 March 2018"
DETAINED = "A number of people were detained for sharing DVK materials and participating in its rallies"
POPE = "The ban was ordered by the Pope in Rome"  # no passage says so


def _reply(hits) -> str:
    motion = next(n for n, hit in enumerate(hits, 1) if "13 March 2018" in hit.chunk.text)
    return f"{BANNED} [{motion}]. {POPE} [{motion}]. {DETAINED}."  # the last one cites nothing


def _fed(pipeline, hits, pieces: list[str]) -> tuple[CheckedReply, list[tuple[int, str]]]:
    """The reply fed in `pieces`; with the texts shown and how many pieces had arrived when each was."""
    shown: list[tuple[int, str]] = []
    arrived = 0
    reply = CheckedReply(hits, pipeline.support, lambda text: shown.append((arrived, text)))
    for arrived, piece in enumerate(pieces, 1):
        reply.add(piece)
    reply.finish()
    return reply, shown


def test_each_sentence_is_shown_once_checked_however_the_reply_is_cut(pipeline):
    hits = pipeline.search(QUESTION)
    text = _reply(hits)
    whole, _ = _fed(pipeline, hits, [text])
    assert whole.shown == f"{BANNED}. [1] {DETAINED}. [1]"  # the uncited one attributed, the Pope never shown
    assert [v[2].supported for v in whole.verdicts] == [True, False, True]
    cut = sorted(random.Random(7).sample(range(1, len(text)), 25))
    for pieces in (list(text), [text[a:b] for a, b in zip([0, *cut], [*cut, len(text)])]):
        reply, shown = _fed(pipeline, hits, pieces)
        assert (reply.shown, [v[0] for v in reply.verdicts]) == (whole.shown, [v[0] for v in whole.verdicts])
        assert [t for _, t in shown] == [f"{BANNED}. [1]", whole.shown]
    # Character by character: the first sentence shows once the next one starts, long before the reply ends.
    assert shown and _fed(pipeline, hits, list(text))[1][0][0] == text.index(POPE) + 1 < len(text) // 2


def test_the_cli_prints_the_first_checked_sentence_while_the_model_still_writes(llm_pipeline, fake_llm, built_index,
                                                                                 corpus_dir, monkeypatch):
    from bot.cli import main

    fake_llm.replies, fake_llm.chunk_delay = [_reply(llm_pipeline.search(QUESTION))], 0.1
    printed: list[tuple[float, str]] = []

    class Terminal(io.StringIO):
        def write(self, text: str) -> int:
            printed.append((time.monotonic(), text))
            return super().write(text)

    monkeypatch.setattr(sys, "stdout", Terminal())
    for name, value in (("PROVIDER", "openai"), ("MODEL", "fake-model"), ("BASE_URL", fake_llm.base_url)):
        monkeypatch.setenv(f"CITEBOT_LLM_{name}", value)
    assert main(["ask", "--index-dir", str(built_index), "--corpus", str(corpus_dir), QUESTION]) == 0
    output = "".join(text for _, text in printed)
    assert output.startswith(f"{BANNED}. [1] {DETAINED}. [1]\n\nSources:\n")
    assert POPE not in output
    first = next(at for at, text in printed if text.startswith(BANNED))
    assert first < fake_llm.streamed_at[-1] - 1.0  # more than ten words were still to come


def test_a_reply_that_starts_not_found_is_not_waited_for(llm_pipeline, fake_llm):
    fake_llm.replies, fake_llm.chunk_delay = ["NOT FOUND. " + "And then the model rambles on. " * 40], 0.02
    start = time.monotonic()
    answer = llm_pipeline.ask(QUESTION)
    assert answer.found and answer.mode == "extractive" and "13 March 2018" in answer.answer
    assert time.monotonic() - start < 2.0 < 0.02 * 6 * 40  # the whole reply would take 4.8 s
    # The HTTP stream is closed at once, so the endpoint stops writing (a piece in flight aside): with
    # llama-index's stream it wrote on until a garbage collection, keeping a one-slot server busy.
    written = len(fake_llm.streamed_at)
    time.sleep(0.5)
    assert len(fake_llm.streamed_at) <= written + 1


def test_a_private_chat_sees_drafts_of_checked_sentences_then_the_answer_with_its_buttons(llm_pipeline, fake_llm,
                                                                                        tmp_path):
    fake_llm.replies, fake_llm.chunk_delay = [_reply(llm_pipeline.search(QUESTION))], 0.08
    with running_bot(llm_pipeline, tmp_path) as (telegram, _):
        telegram.push(telegram.message_update(QUESTION, chat_id=61, user_id=61))
        final = telegram.wait_for("sendMessage", chat_id=61)[0]
    drafts = [(at, params) for method, params, at in telegram.calls if method == "sendMessageDraft"]
    final_at = next(at for method, params, at in telegram.calls if method == "sendMessage")
    assert drafts and drafts[0][1]["text"] == f"{BANNED}. [1]{GROWING}"
    assert all(POPE not in params["text"] for _, params in drafts)
    assert {params["draft_id"] for _, params in drafts} == {drafts[0][1]["draft_id"]}  # one draft, animated
    assert drafts[0][0] < fake_llm.streamed_at[-1] - 0.5 and drafts[-1][0] < final_at
    assert all(b - a >= DRAFT_INTERVAL - 0.05 for (a, _), (b, _) in zip(drafts, drafts[1:]))
    assert final["text"].startswith(f"{BANNED}. [1] {DETAINED}. [1]") and POPE not in final["text"]
    assert final["reply_markup"]["inline_keyboard"][0][0]["text"] == "📄 1"
    assert_telegram_html(final["text"])


def test_a_draft_is_sent_again_while_the_model_writes_on_through_sentences_not_shown(llm_pipeline, fake_llm,
                                                                                     tmp_path, monkeypatch):
    """Telegram shows a draft for about 30 s; unchanged for DRAFT_REFRESH (here 0.6 s), it goes out again."""
    from bot import live_reply

    monkeypatch.setattr(live_reply, "DRAFT_REFRESH", 0.6)
    motion = next(n for n, hit in enumerate(llm_pipeline.search(QUESTION), 1) if "13 March 2018" in hit.chunk.text)
    refused = " ".join([f"{POPE} [{motion}]."] * 5)  # about 45 pieces, 3.6 s, none of them shown
    fake_llm.replies, fake_llm.chunk_delay = [f"{BANNED} [{motion}]. {refused} {DETAINED}."], 0.08
    with running_bot(llm_pipeline, tmp_path) as (telegram, _):
        telegram.push(telegram.message_update(QUESTION, chat_id=63, user_id=63))
        final = telegram.wait_for("sendMessage", chat_id=63)[0]
    first = f"{BANNED}. [1]{GROWING}"
    repeats = [at for method, params, at in telegram.calls if method == "sendMessageDraft" and params["text"] == first]
    assert len(repeats) >= 3, repeats  # the first sentence's draft kept up through the refused stretch
    assert all(b - a >= 0.6 for a, b in zip(repeats, repeats[1:]))
    assert final["text"].startswith(f"{BANNED}. [1]") and POPE not in final["text"]


def test_a_group_sees_one_reply_grow_by_throttled_edits_and_end_with_its_buttons(llm_pipeline, fake_llm, tmp_path):
    reply = _reply(llm_pipeline.search(QUESTION))
    fake_llm.replies, fake_llm.chunk_delay = [f"{reply} {reply.replace(' [', ' again [')}"], 0.12
    group = -4001
    with running_bot(llm_pipeline, tmp_path) as (telegram, _):
        telegram.push(telegram.message_update(f"@citebot_test_bot {QUESTION}", chat_id=group, user_id=62,
                                              chat_type="group"))
        deadline = time.monotonic() + 30
        while not any("reply_markup" in p for p in telegram.sent("editMessageText", group)):
            assert time.monotonic() < deadline, "the answer was never finished in place"
            time.sleep(0.1)
    assert not telegram.sent("sendMessageDraft")  # drafts are for private chats only
    [preview] = [(at, p) for method, p, at in telegram.calls if method == "sendMessage"]  # one message, grown
    assert preview[1]["text"] == f"{BANNED}. [1]{GROWING}" and preview[1]["reply_parameters"]
    edits = [(at, params) for method, params, at in telegram.calls if method == "editMessageText"]
    assert len(edits) >= 2 and edits[0][1]["text"] == f"{BANNED}. [1] {DETAINED}. [1]{GROWING}"
    assert all(b - a >= EDIT_INTERVAL - 0.05 for (a, _), (b, _) in zip([preview, *edits[:-1]], edits[:-1]))
    final = edits[-1][1]  # three sentences shown: the model was stopped there
    assert final["parse_mode"] == "HTML" and final["text"].startswith(f"{BANNED}. [1] {DETAINED}. [1] {BANNED} again. [1]")
    assert POPE not in final["text"] and final["reply_markup"]["inline_keyboard"][0][0]["text"] == "📄 1"
    assert_telegram_html(final["text"])


def test_the_terminal_chat_prints_each_checked_sentence_as_it_passes(llm_pipeline, fake_llm):
    from bot.chat import run_chat

    fake_llm.replies = [_reply(llm_pipeline.search(QUESTION))]
    questions, lines, parts = [QUESTION, "/quit"], [], []
    run_chat(llm_pipeline, read=lambda _: questions.pop(0), write=lines.append, write_part=parts.append)
    assert parts == [f"{BANNED}. [1]", f" {DETAINED}. [1]"]  # as they passed; the Pope never
    assert lines[-1].startswith("\n\nSources:\n[1] European Parliament motion")  # the rest of the answer


def test_prompt_scaffolding_a_small_model_echoes_is_never_shown(pipeline):
    hits = pipeline.search(QUESTION)
    # What SmolLM2-135M wrote on two eval questions: an echoed delimiter, and the question itself.
    reply = CheckedReply(hits, pipeline.support)
    reply.add(f">>\n\nQuestion: {QUESTION} [1]\n\n\"\n\n{BANNED} [1].")
    reply.finish()
    assert reply.shown == f"{BANNED}. [1]"
    assert [sentence for sentence, _, _ in reply.verdicts] == [f"{BANNED}."]  # a question states nothing


def test_one_user_flooding_a_slow_llm_stalls_no_one_else(llm_pipeline, fake_llm, tmp_path):
    """The fake LLM takes about 9 s an answer (three sentences); the first user sends six questions at once."""
    from bot.handlers import STILL_ANSWERING

    motion = next(n for n, hit in enumerate(llm_pipeline.search(QUESTION), 1) if "13 March 2018" in hit.chunk.text)
    fake_llm.replies, fake_llm.chunk_delay = [" ".join([f"{BANNED} [{motion}]."] * 3)], 0.3
    with running_bot(llm_pipeline, tmp_path) as (telegram, _):
        for _ in range(6):
            telegram.push(telegram.message_update(QUESTION, chat_id=71, user_id=71))
        refused = telegram.wait_for("sendMessage", chat_id=71, count=5)
        assert [m["text"] for m in refused] == [STILL_ANSWERING] * 5  # one in flight, five told so
        started = time.monotonic()
        telegram.push(telegram.message_update("/help", chat_id=72, user_id=72))
        telegram.wait_for("sendMessage", chat_id=72)
        helped = time.monotonic() - started
        started = time.monotonic()
        telegram.push(telegram.message_update("What is the capital of France?", chat_id=73, user_id=73))
        declined = telegram.wait_for("sendMessage", chat_id=73)[0]
        answered = time.monotonic() - started
        assert not fake_llm.streamed_at or fake_llm.streamed_at[-1] > time.monotonic() - 1  # still writing
    assert helped < 1.0 and answered < 1.0, (helped, answered)
    assert "do not answer" in declined["text"]


def test_an_llm_answer_ends_at_its_deadline_with_what_was_checked(llm_settings, embedder, fake_llm):
    from index.pipeline import Pipeline

    pipeline = Pipeline.open(llm_settings.model_copy(update={"llm_answer_seconds": 1.5}), embedder)
    motion = next(n for n, hit in enumerate(pipeline.search(QUESTION), 1) if "13 March 2018" in hit.chunk.text)
    refused = " ".join([f"{POPE} [{motion}]."] * 5)  # about 4.5 s of sentences the check refuses
    fake_llm.replies, fake_llm.chunk_delay = [f"{BANNED} [{motion}]. {refused} {DETAINED} [{motion}]."], 0.1
    started = time.monotonic()
    answer = pipeline.ask(QUESTION)
    assert time.monotonic() - started < 3.0
    assert answer.mode == "llm" and answer.answer == f"{BANNED}. [1]" and DETAINED not in answer.answer
    fake_llm.replies = [f"{refused} {BANNED} [{motion}]."]  # nothing checked in time: the quoted answer
    answer = pipeline.ask(QUESTION)
    assert answer.mode == "extractive" and answer.found and "13 March 2018" in answer.answer
