"""The learned answer scorer: its file is checked on load, training is reproducible, the examples users hit work."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.answer.features import FEATURES
from index.answer.scorer import DEFAULT_MODEL, AnswerScorer, ScorerError
from index.evaluate.train import Labelled, fit


def shipped() -> dict:
    return json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))


def test_the_shipped_model_loads_with_its_card():
    scorer = AnswerScorer.load()
    assert set(scorer.calibrations) == {"corpus", "squad2"}
    card = scorer.card
    assert card["data"]["split"].startswith("by document")
    assert "Warsaw.txt" in card["data"]["report_documents"]
    assert not set(card["data"]["report_documents"]) & set(card["data"]["sets"]["squad2"]["documents"])
    assert card["libraries"]["scikit-learn"]


@pytest.mark.parametrize("damage", [
    lambda m: m["features"].__setitem__(0, "a_feature_this_code_does_not_compute"),
    lambda m: m["features"].__setitem__(1, m["features"][0]),
    lambda m: m["trees"]["left"].__setitem__(0, 10**9),
    lambda m: m["calibrations"]["corpus"].__setitem__("threshold", float("nan")),
    lambda m: m["trees"].pop("value"),
    lambda m: m.__setitem__("format", "pickle"),
])
def test_a_model_for_other_features_or_damaged_is_refused(damage, tmp_path):
    model = shipped()
    damage(model)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    with pytest.raises(ScorerError, match="citebot train"):
        AnswerScorer.load(path)


def test_a_missing_model_is_one_clean_cli_line(built_index, corpus_dir, tmp_path, subprocess_env):
    import subprocess
    import sys

    env = {**subprocess_env, "CITEBOT_ANSWER_MODEL": str(tmp_path / "none.json")}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--corpus", str(corpus_dir), "--index-dir",
                           str(built_index), "When was the DVK banned?"], capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("citebot: error: cannot read the answer model") and "Traceback" not in done.stderr


def test_the_shipped_model_was_fitted_on_the_index_this_code_builds():
    from index.ingest.build import expected_meta
    from index.settings import Settings

    # A new splitter version once left the shipped model fitted on the old chunks (its
    # threshold then sat 0.14 off what `make train` gives); a stale model must fail here.
    card = AnswerScorer.load(DEFAULT_MODEL).card
    assert card["data"].get("index") == json.loads(json.dumps(expected_meta(Settings()))), "run `make train`"


def test_the_shipped_model_weighs_the_shipped_readers_margins():
    from dataclasses import asdict

    from index.answer.features import READS
    from index.reader.model import Reader
    from index.settings import Settings

    # Margins from other reader weights are other numbers: a new answer reader needs `make train` after it.
    scorer = AnswerScorer.load(DEFAULT_MODEL)
    assert scorer.needs_reader
    assert scorer.card["data"]["reader"] == Reader.load(Settings().answer_reader_model).identity(), "run `make train`"
    # So are margins of other passages, or of the same passages read under their document's title and date.
    assert scorer.card["data"]["reads"] == asdict(READS), "run `make train`"


def test_the_passages_read_for_the_margins_are_named_the_way_the_benchmark_takes_them():
    from index.answer.features import READS, Reads
    from index.schema import Chunk, DocInfo, Hit

    doc = DocInfo("a.txt", "A", None, None)
    hits = [Hit(Chunk(rank, doc.doc_id, "text", 0, 4, ((0, 4),)), doc, 0.5, (0.5,), rank, lexical)
            for rank, lexical in enumerate([3, None, 5, 0, 1])]
    assert READS.ranks(hits) == [0, 1]  # the shipped model's: fusion's first two
    assert Reads.parse("2+1/heading").ranks(hits) == [0, 1, 3] and Reads.parse("2+1/heading").under_heading
    assert Reads.parse("1+2").ranks(hits) == [0, 3, 4] and Reads.parse("1+2").spec() == "1+2"
    with pytest.raises(ValueError, match="expected FUSION"):
        Reads.parse("two")


def test_a_model_reads_its_columns_by_name():
    from index.answer.features import READER_FEATURES, RETRIEVAL_FEATURES

    rows = synthetic_rows(1)
    plain, _ = fit(rows, {"note": "synthetic"}, RETRIEVAL_FEATURES)
    assert not plain.needs_reader and "reader_best_margin" not in plain.to_json()["features"]
    features = synthetic_rows(2)[1].features
    shuffled = features.copy()
    shuffled[:, [FEATURES.index(name) for name in READER_FEATURES]] = 1e6  # columns it does not read
    assert np.allclose(plain.logits(shuffled), plain.logits(features))
    assert int(np.argmax(plain.logits(features))) == 3
    reloaded = AnswerScorer.from_json(json.loads(json.dumps(plain.to_json())))
    assert reloaded.features == RETRIEVAL_FEATURES and np.allclose(reloaded.logits(features), plain.logits(features))


def synthetic_rows(seed: int) -> list[Labelled]:
    """Questions whose answer unit has a higher first feature; half of them have none."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(240):
        features = rng.normal(size=(8, len(FEATURES)))
        holds = np.zeros(8, dtype=bool)
        if q % 2:
            features[3, 0] += 3
            holds[3] = True
        rows.append(Labelled("set" if q < 200 else "other", f"doc{q % 12}", bool(q % 2), features, holds))
    return rows


def test_training_is_reproducible_and_the_json_scores_as_sklearn_did():
    first, figures = fit(synthetic_rows(1), {"note": "synthetic"})
    again, _ = fit(synthetic_rows(1), {"note": "synthetic"})
    assert json.dumps(first.to_json()) == json.dumps(again.to_json())
    loaded = AnswerScorer.from_json(json.loads(json.dumps(first.to_json())))
    features = synthetic_rows(2)[1].features
    assert np.allclose(loaded.logits(features), first.logits(features))
    assert int(np.argmax(loaded.logits(features))) == 3  # it learned which unit answers
    assert figures["set"]["handled_right"] > 0.65  # always declining would handle half


def test_the_threshold_does_not_follow_the_share_of_unanswerable_questions():
    from index.evaluate.threshold import best_threshold

    answerable, unanswerable = np.linspace(0.5, 0.95, 100), np.linspace(0.1, 0.6, 50)

    def threshold(copies: int) -> float:
        right = np.concatenate([np.ones(len(answerable), bool), np.zeros(len(unanswerable) * copies, bool)])
        return best_threshold(np.concatenate([answerable, *[unanswerable] * copies]), right, right.copy())

    # Counted plainly, three copies of the unanswerable questions would move the peak up to where they are declined.
    assert threshold(1) == threshold(3) == 0.54


def test_the_threshold_leaves_seven_in_ten_answerable_questions_answered():
    from index.evaluate.threshold import ANSWERED_FLOOR, best_threshold, handled

    # Declining climbs faster than answering falls, so the balanced peak alone sat at 0.66, answering a third.
    confidence = np.concatenate([np.linspace(0.2, 0.9, 100), np.linspace(0.1, 0.7, 50)])
    right = np.concatenate([np.ones(100, bool), np.zeros(50, bool)])
    threshold = best_threshold(confidence, right, right.copy())
    assert threshold == 0.41
    assert handled(confidence, right, right.copy(), threshold)["answerable_answered"] >= ANSWERED_FLOOR


KNOWN_MISS = "the answer model misjudges it (README, 'Answer quality'); strict, so a fix shows"


@pytest.mark.parametrize(("question", "expected"), [
    ("alga party leader released on parole - who?", "Vladimir Kozlov"),
    ("whats the EU doing about torture in kz prisons", "torture"),
    # The year is only in the press release's date: a passage is read under its document's date. The right line
    # ranks first, at 0.48 against the threshold 0.59 (0.57 against 0.56 before the reader's margins).
    pytest.param("who chaired the DROI delegation to Kazakhstan in 2022?", "Sagartz",
                 marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISS)),
    # "hr" is a corpus term here (the HR/VP), so the right sentence, which spells out "Human Rights", lacks it:
    # it ranks first, and the reader finds "29 November 2017" in it, but at confidence 0.39 to 0.42 (by CPU).
    pytest.param("u know when the hr dialogue in 2017 happened?", "29 November 2017",
                 marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISS)),
    # Issue 27's examples: the sentence ranks first at 0.40, and its short answer is the date.
    pytest.param("When was the human rights dialogue in 2017?", "29 November 2017",
                 marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISS)),
    # The Bokayev sentence is one unit now, but "why" has no short span to find; the answer is at 0.44.
    pytest.param("why was bokayev imprisoned?", "peaceful rally",
                 marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISS)),
])
def test_questions_from_the_issue_are_answered(pipeline, question, expected):
    answer = pipeline.ask(question)
    assert answer.found, (answer.confidence, answer.answer)
    assert expected in answer.answer
    assert 0 < answer.confidence <= 1


def test_who_chaired_the_delegation_is_answered_by_its_label_line_at_the_threshold(pipeline):
    # The answer is a "Label: value" line under a heading ("Composition of the delegation"). Its confidence sits
    # on the threshold: 0.584 on a CPU with AVX2 alone, 0.59 or more on the machines of earlier runs, where float
    # rounding leaves the reader's margin on the other side of one of the trees' splits (README, "The same margins
    # on every CPU"). So this checks what the model decides, the line and how near it comes, not the side.
    answer, _ = pipeline.ask_traced("who chaired the DROI delegation?", min_confidence=pipeline.min_confidence - 0.02)
    assert answer.found, (answer.confidence, answer.answer)
    assert "Chair of the delegation: Christian Sagartz" in " ".join(answer.answer.split())


@pytest.mark.parametrize("question", [
    "What is the capital of France?",
    "how many torture victims did the MEPs meet in Almaty?",
    "when did Bokayev get out of prison",
    "hi",  # once read as the abbreviation of "high", and answered with a sentence about the High Representative
    # A sentence naming the foundation looked like an answer to the trees alone (0.71); with the reader's margins,
    # which find no founder in it, 0.59 against the threshold 0.59 (0.5877 < 0.59): close.
    "who founded the Open Dialog Foundation",
])
def test_questions_the_documents_do_not_answer_are_declined(pipeline, question):
    answer = pipeline.ask(question)
    assert not answer.found, (answer.confidence, answer.answer)
    assert answer.confidence < pipeline.min_confidence
