"""The optional LLM answerer, against a fake OpenAI-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import pytest

from index.answer.llm import LlmUnavailable, cited_statements
from index.pipeline import Pipeline
from index.settings import Settings

QUESTION = "When was the Democratic Choice of Kazakhstan movement banned?"


def test_llm_answer_is_cited_and_renumbered(llm_pipeline, fake_llm):
    hits = llm_pipeline.search(QUESTION)  # the passages the LLM will be shown, in order
    motion = next(n for n, hit in enumerate(hits, 1) if "13 March 2018" in hit.chunk.text)
    fake_llm.replies = [f"The Parliament notes the DVK movement was banned on 13 March 2018 [{motion}]. "
                        "This sentence cites nothing. Another claim cites a passage that does not exist [9]."]
    answer = llm_pipeline.ask(QUESTION)
    assert answer.found
    assert answer.answer == "The Parliament notes the DVK movement was banned on 13 March 2018. [1]"
    assert [c.n for c in answer.citations] == [1] and "13 March 2018" in answer.citations[0].quote
    assert answer.confidence >= llm_pipeline.min_confidence  # the evidence's, whoever words the answer
    prompt = fake_llm.prompts[-1]
    assert QUESTION in prompt and f"[{motion}] European Parliament motion for a resolution" in prompt


def test_an_llm_saying_not_found_does_not_override_evidence_that_cleared_the_threshold(llm_pipeline, fake_llm):
    fake_llm.replies = ["NOT FOUND"]  # what a passage saying "reply NOT FOUND" made a model do
    answer = llm_pipeline.ask(QUESTION)
    assert answer.found and answer.mode == "extractive" and "13 March 2018" in answer.answer


def _cite(hits, words: str) -> int:
    return next(n for n, hit in enumerate(hits, 1) if words in hit.chunk.text)


def test_sentences_their_passages_do_not_support_never_reach_the_user(llm_pipeline, fake_llm):
    hits = llm_pipeline.search(QUESTION)
    motion = _cite(hits, "13 March 2018")
    fake_llm.replies = [f"The DVK movement was banned on 13 March 2018 [{motion}]. "
                        f"The DVK movement was banned on 13 March 2019 [{motion}]. "  # a date swapped
                        f"The DVK movement was not banned [{motion}]. "  # a negation
                        f"The ban was ordered by the Pope in Rome [{motion}]."]  # an added claim
    answer = llm_pipeline.ask(QUESTION)
    assert answer.mode == "llm" and answer.answer == "The DVK movement was banned on 13 March 2018. [1]"
    verdicts = {s.text: s for s in answer.sentences}
    assert [s.supported for s in answer.sentences] == [True, False, False, False]
    assert verdicts["The DVK movement was banned on 13 March 2019."].missing == ("date:13-3-2019",)
    assert verdicts["The DVK movement was not banned."].negation
    assert {"pope", "rome"} <= set(verdicts["The ban was ordered by the Pope in Rome."].missing)


def test_a_hallucinating_reply_falls_back_to_the_extractive_answer_labelled_as_such(llm_pipeline, fake_llm):
    question = "Who was the chair of the delegation?"
    hits = llm_pipeline.search(question)
    visit = _cite(hits, "Sagartz")
    # What SmolLM2-135M answered from the passage "Chair of the delegation: Christian Sagartz (EPP, Austria)".
    fake_llm.replies = [f"The delegation was led by the Austrian delegation, which included the Pope [{visit}]. "
                        f"The Pope was the Chair of the delegation [{visit}]."]
    answer = llm_pipeline.ask(question)
    assert answer.mode == "extractive" and "Pope" not in answer.answer
    assert answer.sentences and not any(s.supported for s in answer.sentences)
    from bot.render import FALLBACK_NOTE, render_answer

    assert render_answer(answer, llm_pipeline.prompts).startswith(f"({FALLBACK_NOTE})")  # labelled as such


def test_questions_under_the_threshold_never_reach_the_llm(llm_pipeline, fake_llm):
    fake_llm.replies = ["Paris is the capital of France [1]."]
    answer = llm_pipeline.ask("What is the capital of France?")
    assert not answer.found and fake_llm.prompts == []


def test_an_unreachable_or_useless_llm_falls_back_to_the_extractive_answer(llm_pipeline, fake_llm):
    fake_llm.replies = ["I think it was sometime in 2018, but I am not sure."]
    assert llm_pipeline.ask(QUESTION).answer.startswith("whereas the Democratic Choice of Kazakhstan (DVK)")
    fake_llm.stop()
    assert "13 March 2018 [1]" in llm_pipeline.ask(QUESTION).answer


def test_llm_option_without_an_endpoint_is_a_clear_error(built_index, corpus_dir, embedder):
    with pytest.raises(LlmUnavailable, match="needs CITEBOT_LLM_MODEL and CITEBOT_LLM_BASE_URL"):
        Pipeline.open(Settings(corpus_dir=corpus_dir, index_dir=built_index, llm_provider="openai"), embedder)


def test_cited_statements_keep_only_validly_cited_sentences():
    reply = "First claim [1]. Second claim [2][3] Third, uncited. Fourth [4]. Fifth [2] [2]. Sixth. [0]"
    assert cited_statements(reply, 3) == [("First claim.", [1]), ("Second claim", [2, 3]), ("Fifth.", [2])]
    assert cited_statements("A [1]. B is not cited. C [2].", 2) == [("A.", [1]), ("C.", [2])]
    assert cited_statements("No citations at all.", 3) == []


@pytest.mark.parametrize(("sentence", "supported"), [
    ("On March 13, 2018 a court banned the DVK [1].", True),  # the date written the other way
    ("A court banned the DVK on 2018-03-13 [1].", True),
    ("Fifteen activists were detained [1].", True),  # "15" in the passage
    ("On 13 March 2019 a court banned the DVK [1].", False),
    ("Sixteen activists were detained [1].", False),
    ("A court in Almaty banned the DVK [1].", False),  # a name the passage lacks
])
def test_facts_are_compared_after_normalisation(sentence, supported):
    from index.answer.support import check

    passage = "On 13 March 2018 a court banned the DVK movement. Police detained 15 activists the next day."
    units = ["On 13 March 2018 a court banned the DVK movement.", "Police detained 15 activists the next day."]
    # Cosines as the encoder gives related sentences, every word common: the facts alone are under test.
    verdict = check(sentence.replace(" [1]", ""), [passage], units, [0.8, 0.7], idf=lambda term: 1.0)
    assert verdict.supported is supported


def test_a_gguf_path_that_is_not_a_file_is_a_clear_error(built_index, corpus_dir, embedder, tmp_path):
    with pytest.raises(LlmUnavailable, match="no GGUF model at .*missing.gguf .CITEBOT_LLM_MODEL_PATH."):
        Pipeline.open(Settings(corpus_dir=corpus_dir, index_dir=built_index,
                               llm_model_path=tmp_path / "missing.gguf"), embedder)


def test_the_llm_reads_the_passages_the_extractive_answer_quotes_first(fake_llm, llm_settings, embedder, pipeline):
    question = "Who was the chair of the delegation?"
    quoted = pipeline.ask(question).citations[0].quote  # the extractive answer's passage
    fake_llm.replies = ["Christian Sagartz chaired the delegation [1]."]
    answer = Pipeline.open(llm_settings.model_copy(update={"llm_passages": 1}), embedder).ask(question)
    prompt = fake_llm.prompts[-1]
    assert "<<<PASSAGE [1]" in prompt and "<<<PASSAGE [2]" not in prompt and quoted in prompt  # less to read
    assert answer.mode == "llm" and answer.citations[0].quote == quoted


def test_the_eval_asks_the_llm_only_where_a_user_would_get_an_answer(fake_llm, built_index, tmp_path, monkeypatch,
                                                                    capsys):
    import json

    from bot.cli import main

    fake_llm.replies = ["The DVK movement was banned on 13 March 2018 [1]."]
    items = [{"id": "ban", "question": QUESTION, "must_contain": ["13 March 2018"]},
             {"id": "paris", "question": "What is the capital of France?", "unanswerable": True}]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in items))
    for name, value in (("PROVIDER", "openai"), ("MODEL", "fake-model"), ("BASE_URL", fake_llm.base_url)):
        monkeypatch.setenv(f"CITEBOT_LLM_{name}", value)
    assert main(["eval", str(path), "--index-dir", str(built_index), "--llm", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(fake_llm.prompts) == 1 and QUESTION in fake_llm.prompts[0]  # not the question it declines
    worded = report["results"][0]
    assert worded["llm_mode"] and worded["answer"] == "The DVK movement was banned on 13 March 2018. [1]"
    assert 0 < worded["first_sentence_ms"] <= worded["latency_ms"]
    assert report["metrics"]["llm_answered"] == 1.0 and report["metrics"]["handled_right"] == 1.0
    # --llm: the same items answered without it, beside
    extractive = report["extractive"]
    assert extractive["results"][0]["answer"].startswith("whereas the Democratic Choice of Kazakhstan (DVK)")
    assert "llm_answered" not in extractive["metrics"] and extractive["metrics"]["handled_right"] == 1.0
    assert main(["eval", str(path), "--index-dir", str(built_index), "--llm"]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert header.split()[1:] == ["with", "LLM", "extractive"]


def test_eval_with_llm_but_no_llm_configured_says_what_to_set(built_index, tmp_path, capsys):
    from bot.cli import main

    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "When was the DVK movement banned?", "must_contain": ["2018"]}')
    assert main(["eval", str(path), "--index-dir", str(built_index), "--llm"]) == 1
    assert "--llm needs an LLM: CITEBOT_LLM_MODEL_PATH" in capsys.readouterr().err
