"""The optional LLM answerer, against a fake OpenAI-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import pytest

from fake_openai import FakeOpenAI
from index.llm import LlmUnavailable, cited_statements
from index.pipeline import Pipeline
from index.settings import Settings

QUESTION = "When was the Democratic Choice of Kazakhstan movement banned?"


@pytest.fixture
def fake_llm():
    fake = FakeOpenAI()
    yield fake
    fake.stop()


@pytest.fixture
def llm_pipeline(fake_llm, built_index, corpus_dir, embedder):
    settings = Settings(corpus_dir=corpus_dir, index_dir=built_index, llm_provider="openai", llm_model="fake-model",
                        llm_base_url=fake_llm.base_url)
    return Pipeline.open(settings, embedder)


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


def test_llm_saying_not_found_gives_a_not_found_answer(llm_pipeline, fake_llm):
    fake_llm.replies = ["NOT FOUND"]
    answer = llm_pipeline.ask(QUESTION)
    assert not answer.found and "do not answer" in answer.answer


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
