"""Answers over the real corpus with the real model, FAISS and BM25: what a user asking sees."""

from __future__ import annotations

import re

import pytest

MOTION = "2019-03-ep-motion-for-resolution-b8-0205-2019.txt"
ODF = "2017-11-odf-meps-political-prisoners-eu-kazakhstan-pca.md"
PRESS = "2022-08-24-ep-press-release-droi-visit-kazakhstan.txt"
IPHR = "2014-11-10-iphr-kibhr-eu-kazakhstan-human-rights-talks.txt"
ANSWER = "2018-02-21-ep-answer-e-007094-2017-dzhakishev-tokmadi.txt"
MARKER = re.compile(r"\s*\[(\d+)\]")


def statements(answer_text: str) -> list[tuple[str, int]]:
    """Split "a [1] b [2]" into (statement, citation number) pairs."""
    parts = MARKER.split(answer_text)
    return [(parts[i].strip(), int(parts[i + 1])) for i in range(0, len(parts) - 1, 2)]


@pytest.mark.parametrize(
    ("question", "expected", "doc_id"),
    [
        ("What rank did Kazakhstan have in the 2018 press freedom index?", "158th", MOTION),
        ("When was the Democratic Choice of Kazakhstan movement banned?", "13 March 2018", MOTION),
        ("what happened at zhanaozen", "Zhanaozen", MOTION),
        ("How long is Mukhtar Dzhakishev's prison sentence?", "14 years", ODF),
        ("When did the Subcommittee on Human Rights delegation visit Kazakhstan?", "22-24 August", PRESS),
        ("How much did the advertising agency have to pay over the poster of two men kissing?", "145 000 EUR", IPHR),
        ("Where was the EU-Kazakhstan Human Rights Dialogue of 29 November 2017 held?", "Astana", ANSWER),
    ],
)
def test_names_dates_and_numbers_are_answered_from_the_right_document(pipeline, question, expected, doc_id):
    answer = pipeline.ask(question)
    assert answer.found, answer.answer
    assert expected in answer.answer
    cited = {c.n: c.doc_id for c in answer.citations}
    assert any(cited[n] == doc_id and expected in text for text, n in statements(answer.answer))


def test_question_from_the_issue_explains_why_bokayev_is_in_prison(pipeline):
    answer = pipeline.ask("why is maks bokayev in prison")
    assert answer.found
    assert "land reform" in answer.answer or "peaceful rally" in answer.answer
    assert {c.doc_id for c in answer.citations} & {MOTION, ODF}


@pytest.mark.parametrize(
    ("question", "passage_text"),
    [
        # The text: "police resorted to use excessive force and detained more than 150 peaceful protesters".
        ("How did police treat the demonstrators who wanted to draw the attention of visiting MEPs to torture?",
         "excessive force"),
        # The text: "the EU being the primary trade partner and the largest foreign investor in Kazakhstan".
        ("Which country invests the most money in Kazakhstan?", "largest foreign investor"),
    ],
)
def test_paraphrased_question_finds_its_passage(pipeline, question, passage_text):
    answer = pipeline.ask(question)  # answered, or declined with the closest passages shown
    assert any(passage_text in citation.quote for citation in answer.citations)


def test_misspelt_lower_case_question_still_finds_the_person(pipeline):
    answer = pipeline.ask("when did the eu visit bokaev in prison")
    assert answer.found
    assert "Bokayev" in answer.answer and "November 24, 2017" in answer.answer
    # Whether "why" is answered is the scorer's call (confidence 0.50 against the threshold 0.55);
    # the misspelt name is found either way.
    closest = pipeline.ask("why was bokaev jailed")
    assert closest.citations and all("Bokayev" in citation.quote for citation in closest.citations)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "How do I bake sourdough bread?",
        "How many people died in the January 2022 events in Kazakhstan?",
        "When did Kazakhstan join the OSCE?",
    ],
)
def test_questions_the_corpus_cannot_answer_are_answered_not_found(pipeline, question):
    answer = pipeline.ask(question)
    assert not answer.found
    assert "do not answer" in answer.answer
    assert 1 <= len(answer.citations) <= 3  # the closest passages are offered
    assert not MARKER.search(answer.answer)


def test_a_declined_question_quotes_the_sentence_that_comes_nearest_marked_as_not_an_answer(pipeline):
    import json

    from bot.render import render_answer
    from index.schema import Answer

    # Declined at 0.40 (test_answer_model's strict xfail: when the model answers it, pick another declined question),
    # yet the sentence the answer model ranks first holds the date: a user sees it rather than three titles.
    answer = pipeline.ask("When was the human rights dialogue in 2017?")
    assert not answer.found and answer.nearest is not None
    assert "29 November 2017" in answer.nearest and answer.nearest.endswith(" [1]")
    first = answer.citations[0]
    assert first.doc_id == ANSWER and "29 November 2017" in first.quote[first.focus[0] : first.focus[1]]
    shown = " ".join(render_answer(answer, pipeline.prompts).split())
    assert shown.index("do not answer") < shown.index("(not an answer)") < shown.index("on 29 November 2017")
    assert Answer.from_json(json.loads(json.dumps(answer.to_json()))) == answer


def test_a_question_far_from_every_document_quotes_no_nearest_sentence(pipeline):
    answer = pipeline.ask("How do I bake sourdough bread?")
    assert not answer.found and answer.nearest is None
    assert all(citation.focus is not None for citation in answer.citations)  # each passage shown around its best


@pytest.mark.parametrize(
    "question",
    [
        "why is maks bokayev in prison",
        "What did the MEPs praise Kazakhstan for in relation to Russia?",
        "What did the EU urge Kazakhstan to do about Mr Dzhakishev?",
        "Who was deported on 14-15 February 2019?",
    ],
)
def test_every_statement_is_verbatim_text_of_the_passage_it_cites(pipeline, question):
    answer = pipeline.ask(question)
    assert answer.found
    quotes = {c.n: c.quote for c in answer.citations}
    pairs = statements(answer.answer)
    assert pairs and MARKER.sub("", answer.answer).strip()
    assert " ".join(f"{text} [{n}]" for text, n in pairs) == answer.answer  # nothing said outside a citation
    for text, n in pairs:
        assert text in quotes[n]
    assert sorted(quotes) == list(range(1, len(quotes) + 1))
    assert {n for _, n in pairs} == set(quotes)


def test_citations_carry_title_date_and_source(pipeline):
    answer = pipeline.ask("When was the Democratic Choice of Kazakhstan movement banned?")
    citation = answer.citations[0]
    assert citation.title.startswith("European Parliament motion for a resolution")
    assert citation.date == "2019-03"
    assert citation.source == "https://www.europarl.europa.eu/doceo/document/B-8-2019-0205_EN.html"


@pytest.mark.parametrize(
    "furniture",
    ["Subscribe to our updates", "Choisissez la langue", "български", "Email:", "Tel:", "Legal notice",
     "Flood coverage restrictions", "Read our reports", "Quick search", "Download the letters"],
)
def test_site_furniture_is_never_in_a_passage(pipeline, furniture):
    assert not [c for c in pipeline.store.chunks.values() if furniture in c.text]


def test_questions_about_furniture_get_no_furniture(pipeline):
    answer = pipeline.ask("How can I subscribe to updates or contact the press service by email?")
    for citation in answer.citations:
        assert "Subscribe" not in citation.quote and "@europarl" not in citation.quote


def test_the_readers_margins_are_read_for_the_question_without_its_not():
    from index.answer.answer_type import without_negation

    assert without_negation("Which prisoners were not released?") == "Which prisoners were released?"
    assert without_negation("Why didn’t the EU act? Who can't travel? What won't change? Never again?") == \
        "Why did the EU act? Who can travel? What will change? again?"
    assert without_negation("Is a knot notable?") == "Is a knot notable?"


@pytest.mark.xfail(strict=True, reason="declined at 0.55 against the threshold 0.59 (README, 'Answer quality')")
def test_a_negated_question_is_answered_in_the_positive_words_the_documents_use(pipeline):
    # SQuAD's writers made look-alikes by adding "not"; a scorer that learns that habit declines this (README).
    # The reader learned it too (0.02), so its margins are read for the question without its "not" (0.55).
    answer = pipeline.ask("Which prisoners were not released?")
    assert answer.found
    assert "calls for release of all other political prisoners" in answer.answer
    assert "Maks Bokayev" in answer.answer and "Iskander Yerimbetov" in answer.answer


def test_the_source_under_an_answer_shows_the_lines_around_the_cited_sentence(pipeline):
    from bot.render import render_answer

    # Answered just under the threshold on some CPUs (test_answer_model): what it shows when answered is asked here.
    answer, _ = pipeline.ask_traced("who chaired the DROI delegation?", min_confidence=0.5)
    rendered = render_answer(answer, pipeline.prompts)
    sources = rendered.split("Sources:", 1)[1]
    assert "Chair of the delegation: Christian Sagartz" in " ".join(sources.split())
    # the press release's passage opens with this line, far above the cited one: a reader checking the
    # citation would not find the answer there
    assert "Universal Human Rights apply to everyone" not in sources
    cited = answer.citations[0]
    assert cited.quote[slice(*cited.focus)].startswith("Composition of the delegation")
