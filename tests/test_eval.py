"""The evaluation: metrics on hand-checked cases, malformed input, reports, comparison and gates."""

from __future__ import annotations

import json
import re

import pytest

from bot.cli import main
from index.evaluate.run import EvalItem, feedback_candidates, feedback_log_entries, load_items, score_item, summarise
from index.schema import Answer, Citation

MOTION = "2019-03-ep-motion-for-resolution-b8-0205-2019.txt"
ODF = "2017-11-odf-meps-political-prisoners-eu-kazakhstan-pca.md"


def answer(text: str, docs: list[str], found: bool = True) -> Answer:
    citations = tuple(Citation(n, d, d, None, None, "passage", 0.5) for n, d in enumerate(docs, 1))
    return Answer("q", text, found, citations)


def test_a_hit_at_rank_two_gives_mrr_one_half():
    item = EvalItem("q", "a1", gold_docs=("gold.txt",))
    result = score_item(item, answer("x [1]", ["other.txt"]), ["other.txt", "gold.txt", "third.txt"], 5, None, 1.0)
    assert result.reciprocal_rank == 0.5 and result.hit == 1.0
    assert score_item(item, answer("x [1]", ["other.txt"]), ["other.txt", "gold.txt"], 1, None, 1.0).hit == 0.0
    assert score_item(item, answer("x", []), ["a", "b"], 5, None, 1.0).reciprocal_rank == 0.0


def test_citation_precision_and_recall_count_documents():
    item = EvalItem("q", "a2", gold_docs=("corpus/a.txt", "b.txt"))  # a gold entry may be a path or a file name
    result = score_item(item, answer("x [1] y [2] z [3]", ["corpus/a.txt", "c.txt", "corpus/a.txt"]),
                        ["corpus/a.txt"], 5, None, 1.0)
    assert result.citation_precision == 0.5  # a and c cited, a is gold
    assert result.citation_recall == 0.5  # a of a and b


def test_abstention_is_right_on_unanswerable_and_wrong_on_answerable():
    unanswerable = EvalItem("q", "u1", unanswerable=True)
    assert score_item(unanswerable, answer("not found", [], found=False), [], 5, None, 1.0).abstention_correct == 1.0
    assert score_item(unanswerable, answer("a guess [1]", ["x.txt"]), [], 5, None, 1.0).abstention_correct == 0.0
    answerable = EvalItem("q", "a3", answer="On 13 March 2018.", must_contain=("13 march 2018",))
    missed = score_item(answerable, answer("not found", [], found=False), [], 5, lambda a, b: 0.9, 1.0)
    assert (missed.abstention_correct, missed.contains, missed.similarity) == (0.0, 0.0, 0.0)
    hit = score_item(answerable, answer("It was banned on 13 March 2018 [1]", ["m.txt"]), [], 5, lambda a, b: 0.9, 1.0)
    assert (hit.abstention_correct, hit.contains, hit.similarity, hit.answer_words) == (1.0, 1.0, 0.9, 7)


def test_a_declined_answer_is_judged_by_the_nearest_sentence_it_quotes():
    from dataclasses import replace

    item = EvalItem("q", "n1", must_contain=("29 November 2017",))
    declined = answer("not found", ["a.txt"], found=False)
    near = replace(declined, nearest="Ahead of the Dialogue in Astana on 29 November 2017, the EU met NGOs [1]")
    elsewhere = replace(declined, nearest="The EU held several consultations [1]")
    results = [score_item(item, reply, [], 5, None, 1.0) for reply in (near, elsewhere, declined)]
    assert [r.nearest_hold for r in results] == [1.0, 0.0, 0.0]  # none quoted counts as not holding it
    assert summarise(results)["declined_nearest_hold"] == round(1 / 3, 4)
    assert score_item(item, answer("On 29 November 2017 [1]", ["a.txt"]), [], 5, None, 1.0).nearest_hold is None


def test_summary_means_only_over_items_a_metric_applies_to():
    results = [
        score_item(EvalItem("q", "1", gold_docs=("g",)), answer("a [1]", ["g"]), ["g"], 5, None, 10.0),
        score_item(EvalItem("q", "2", gold_docs=("g",)), answer("a [1]", ["x"]), ["x", "g"], 5, None, 30.0),
        score_item(EvalItem("q", "3", unanswerable=True), answer("n", [], found=False), ["x"], 5, None, 20.0),
    ]
    metrics = summarise(results)
    assert metrics["mrr"] == 0.75 and metrics["hit_at_k"] == 1.0
    assert metrics["citation_precision"] == 0.5 and metrics["abstention_accuracy"] == 1.0
    assert metrics["answered_rate"] == 1.0 and metrics["latency_p50_ms"] == 20.0


def test_malformed_lines_are_reported_by_number_and_the_rest_loaded(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "When was the DVK banned?", "id": "ok1"}\n'
                    'this is not json\n'
                    '\n'
                    '{"answer": "no question here"}\n'
                    '{"question": "Q?", "gold_docs": "a.txt", "must_contain": [1, 2]}\n'
                    '["a list"]\n'
                    '{"question": "Who is Malik Kenzhaliev?", "unanswerable": "no"}\n'
                    '{"question": "Again", "id": "ok1"}\n'
                    '{"question": "Is torture common?", "gold_docs": "a.txt"}\n')
    loaded = load_items(path)
    assert [i.id for i in loaded.items] == ["ok1", "line9"]
    assert loaded.items[1].gold_docs == ("a.txt",)
    assert loaded.problems == ["line 2: not valid JSON (Expecting value)", "line 4: 'question' is missing or empty",
                               "line 5: 'must_contain' must be a list of strings", "line 6: not a JSON object",
                               "line 7: 'unanswerable' must be true or false", "line 8: duplicate id 'ok1'"]


def test_csv_with_the_same_columns_is_read(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("id,question,answer,must_contain,gold_docs,unanswerable\n"
                    "c1,When was the DVK banned?,13 March 2018,13 March 2018|2018,a.txt|b.txt,\n"
                    "c2,What is the capital of France?,,,,true\n"
                    "c3,,,,,\n")
    loaded = load_items(path)
    assert [(i.id, i.must_contain, i.gold_docs, i.unanswerable) for i in loaded.items] == [
        ("c1", ("13 March 2018", "2018"), ("a.txt", "b.txt"), False), ("c2", (), (), True)]
    assert loaded.problems == ["line 4: 'question' is missing or empty"]


@pytest.fixture
def small_eval(tmp_path):
    path = tmp_path / "qa.jsonl"
    items = [
        {"id": "ban", "question": "When was the Democratic Choice of Kazakhstan movement banned?",
         "answer": "On 13 March 2018.", "must_contain": ["13 March 2018"], "gold_docs": [MOTION]},
        {"id": "bokayev", "question": "why is maks bokayev in prison", "must_contain": ["land reform", "peaceful rally"],
         "gold_docs": [MOTION, ODF]},
        {"id": "france", "question": "What is the capital of France?", "unanswerable": True},
    ]
    path.write_text("\n".join(json.dumps(i) for i in items) + "\nnot json\n")
    return path


def test_eval_cli_prints_a_table_and_writes_json_and_markdown_reports(small_eval, built_index, tmp_path, capsys):
    report_path = tmp_path / "out" / "report.json"
    assert main(["eval", str(small_eval), "--index-dir", str(built_index), "--report", str(report_path)]) == 0
    out, err = capsys.readouterr()
    assert "retrieval hit@k" in out and "abstention accuracy" in out and "latency p95 (ms)" in out
    assert "handled right 1.000 (95% interval 0.439 to 1.000, 3 questions)" in out  # three questions prove little
    assert "line 4: not valid JSON" in err
    report = json.loads(report_path.read_text())
    assert report["items"] == 3 and report["metrics"]["abstention_accuracy"] == 1.0
    assert report["metrics"]["hit_at_k"] == 1.0 and report["metrics"]["answer_contains"] == 1.0
    assert {r["id"] for r in report["results"]} == {"ban", "bokayev", "france"}
    assert report_path.with_suffix(".md").read_text().startswith("# Evaluation")


def test_a_declined_question_is_judged_by_the_passages_its_reply_shows(built_index, tmp_path, capsys):
    # Labelled answerable on purpose, so that the eval checks what the "not found" reply shows: every
    # document of the corpus names Kazakhstan, none names Paris, and the question is declined (0.05).
    path = tmp_path / "declined.jsonl"
    path.write_text("".join(json.dumps({"id": i, "question": "What is the capital of France?", "must_contain": [m]})
                            + "\n" for i, m in (("shown", "Kazakhstan"), ("absent", "Paris"))))
    report_path = tmp_path / "declined.json"
    assert main(["eval", str(path), "--index-dir", str(built_index), "--report", str(report_path)]) == 0
    assert re.search(r"declined, shown hold answer\s+0\.500", capsys.readouterr().out)
    report = json.loads(report_path.read_text())
    by_id = {r["id"]: r for r in report["results"]}
    assert not by_id["shown"]["found"] and not by_id["absent"]["found"]
    assert (by_id["shown"]["closest_hold"], by_id["absent"]["closest_hold"]) == (1.0, 0.0)
    assert report["metrics"]["declined_ranked_hold"] == 0.5  # the baseline: as many passages in retrieval order


def test_compare_and_fail_under_set_the_exit_code(small_eval, built_index, tmp_path, capsys):
    base = ["eval", str(small_eval), "--index-dir", str(built_index)]
    old_path = tmp_path / "old.json"
    assert main([*base, "--report", str(old_path)]) == 0
    old = json.loads(old_path.read_text())
    worse = {r["id"]: r for r in old["results"]}
    worse["ban"].update(contains=0.0, abstention_correct=0.0)  # pretend the old run was wrong on one item
    old_path.write_text(json.dumps({**old, "results": list(worse.values())}))
    capsys.readouterr()
    assert main([*base, "--compare", str(old_path), "--fail-under", "abstention_accuracy=0.9"]) == 0
    out = capsys.readouterr().out
    assert "better ban: abstention 0.000 → 1.000" in out and "2 item changes better, 0 worse" in out
    # One question of three turning right is no evidence that the change helps: the interval says so.
    assert re.search(r"abstention, paired +\+0\.333 \(95% interval \+0\.000 to \+1\.000, 3 questions\): "
                     r"within what chance moves", out)
    assert main([*base, "--fail-under", "hit_at_k=0.5", "--fail-under", "answer_contains=1.01"]) == 1
    assert "citebot: eval: answer_contains 1.000 is under 1.01" in capsys.readouterr().err
    assert main([*base, "--fail-under", "speed=3"]) == 1
    assert "--fail-under takes metric=value" in capsys.readouterr().err


def test_baseline_runs_offline_beside_citebot(small_eval, built_index, corpus_dir, capsys):
    argv = ["eval", str(small_eval), "--index-dir", str(built_index), "--corpus", str(corpus_dir), "--baseline", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    baseline = report["baseline"]["metrics"]
    assert baseline["answered_rate"] == 1.0 and baseline["abstention_accuracy"] < 1.0  # it never says "not found"
    assert baseline["answer_words"] > 3 * report["metrics"]["answer_words"]  # whole 1024-token chunks
    assert report["baseline"]["results"][0]["retrieved_docs"][0].endswith(".txt")


def test_from_feedback_turns_down_votes_into_items(tmp_path, capsys):
    log = tmp_path / "feedback.jsonl"
    entries = [{"vote": "down", "question": "Who is X?", "answer": "Y [1]", "citations": [{"doc_id": "a.txt"}]},
               {"vote": "up", "question": "Fine?", "answer": "Yes [1]", "citations": []},
               {"vote": "down", "question": "Who is X?", "answer": "Y [1]", "citations": []}]
    log.write_text("\n".join(json.dumps(e) for e in entries) + "\n{broken\n")
    assert [c["question"] for c in feedback_candidates(feedback_log_entries(log))] == ["Who is X?"]
    assert main(["eval", "--from-feedback", str(log)]) == 0
    candidate = json.loads(capsys.readouterr().out)
    assert candidate["got"] == "Y [1]" and candidate["got_cited"] == ["a.txt"] and candidate["must_contain"] == []


def test_eval_report_has_the_threshold_plot_and_a_calibration_table(small_eval, built_index, tmp_path, capsys):
    report_path = tmp_path / "out" / "report.json"
    assert main(["eval", str(small_eval), "--index-dir", str(built_index), "--report", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["metrics"]["handled_right"] == 1.0 and report["threshold"] is not None
    france = next(r for r in report["results"] if r["id"] == "france")
    assert france["right_if_answered"] is False and france["confidence"] < report["threshold"]
    png = report_path.with_suffix(".png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    markdown = report_path.with_suffix(".md").read_text()
    assert "## Calibration" in markdown and "![answered right against answered](report.png)" in markdown


def test_eval_part_keeps_only_the_report_documents(built_index, tmp_path, capsys):
    path = tmp_path / "qa.jsonl"
    items = [{"id": "odf", "question": "How long is Dzhakishev's prison sentence?", "must_contain": ["14 years"],
              "gold_docs": [ODF]},
             {"id": "ban", "question": "When was the DVK banned?", "must_contain": ["13 March 2018"],
              "gold_docs": [MOTION]}]
    path.write_text("\n".join(json.dumps(i) for i in items))
    assert main(["eval", str(path), "--index-dir", str(built_index), "--part", "report", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in report["results"]] == ["odf"]  # the motion is development data (eval/splits.json)


def test_llm_rows_appear_only_when_an_llm_was_asked_and_count_what_reached_the_user():
    from index.schema import CheckedSentence

    cite = Citation(1, "a.txt", "A report", "2018", None, "The DVK was banned on 13 March 2018 in Almaty.", 0.9)
    item = EvalItem(question="When was the DVK banned?", id="q1", answer="13 March 2018")
    extractive = Answer(item.question, "The DVK was banned on 13 March 2018 [1]", True, (cite,))
    assert not any(key.startswith("llm") for key in summarise([score_item(item, extractive, [], 5, None, 1.0)]))
    worded = Answer(item.question, "It was banned in March 2018 in Almaty. [1]", True, (cite,), 0.9, "llm",
                    (CheckedSentence("It was banned in March 2018 in Almaty.", (1,), True, 0.8),
                     CheckedSentence("The Pope banned it.", (1,), False, 0.4, ("pope",))))
    refused = Answer(item.question, "The DVK was banned on 13 March 2018 [1]", True, (cite,), 0.9, "extractive",
                     (CheckedSentence("It was banned in Paris.", (1,), False, 0.5, ("paris",)),))
    metrics = summarise([score_item(item, a, [], 5, None, 1.0) for a in (worded, refused, extractive)])
    assert metrics["llm_answered"] == 0.5 and metrics["llm_fell_back"] == 0.5
    assert metrics["llm_sentences_shown"] == round(1 / 3, 4) and metrics["llm_shown_unquoted"] == 0.0


def test_the_eval_times_the_first_checked_sentence_of_a_streamed_answer():
    import time

    from index.evaluate.run import evaluate
    from index.schema import CheckedSentence

    cite = Citation(1, "a.txt", "A report", "2018", None, "The DVK was banned on 13 March 2018.", 0.9)
    item = EvalItem(question="When was the DVK banned?", id="q1", must_contain=("2018",))
    worded = Answer(item.question, "It was banned in 2018. [1]", True, (cite,), 0.9, "llm",
                    (CheckedSentence("It was banned in 2018.", (1,), True, 0.8),))

    def ask(question: str, on_text=None):  # a stand-in for the pipeline: a sentence passes, then the model goes on
        time.sleep(0.05)
        on_text("It was banned in 2018. [1]")
        time.sleep(0.2)
        return worded, []

    report = evaluate([item], ask, None, 5, streams=True)
    result = report["results"][0]
    assert 50 <= result["first_sentence_ms"] <= result["latency_ms"] - 200
    assert report["metrics"]["llm_first_sentence_p50_ms"] == result["first_sentence_ms"]


def test_what_is_shown_first_is_scored_by_exact_match_and_f1():
    from dataclasses import replace

    from index.schema import ShortAnswer

    item = EvalItem("q", "s1", must_contain=("29 November 2017",))
    sentence = answer("The dialogue was held in Astana on 29 November 2017 [1]", ["a.txt"])
    short = replace(sentence, span=ShortAnswer("on 29 November 2017", 1, 33, 52))
    with_span, without = score_item(item, short, [], 5, None, 1.0), score_item(item, sentence, [], 5, None, 1.0)
    assert with_span.span_exact_match == 0.0 and with_span.span_f1 == 0.8571  # "on" is extra
    assert with_span.short_answer == "on 29 November 2017"
    assert without.span_exact_match == 0.0 and 0 < without.span_f1 < with_span.span_f1
    exact = score_item(item, replace(sentence, span=ShortAnswer("29 November 2017", 1, 36, 52)), [], 5, None, 1.0)
    assert exact.span_exact_match == 1.0 and exact.span_f1 == 1.0
    declined = score_item(item, answer("not found", [], found=False), [], 5, None, 1.0)
    assert declined.span_f1 is None  # measured over answered questions only
    metrics = summarise([with_span, without, exact, declined])
    assert metrics["span_exact_match"] == round(1 / 3, 4) and metrics["short_answer_rate"] == round(2 / 3, 4)


def test_calibrate_writes_a_threshold_the_next_process_uses(built_index, tmp_path, capsys, embedder, corpus_dir):
    import shutil

    from index.pipeline import Pipeline
    from index.settings import Settings

    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)
    items = tmp_path / "mine.jsonl"
    rows = [json.loads(line) for line in (corpus_dir.parent / "eval" / "qa.jsonl").read_text().splitlines()]
    chosen = [r for r in rows if not r.get("unanswerable")][:30] + [r for r in rows if r.get("unanswerable")][:12]
    items.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    code = main(["eval", str(items), "--index-dir", str(index_dir), "--calibrate"])
    assert code == 0
    written = json.loads((index_dir / "threshold.json").read_text())
    assert 0 < written["threshold"] < 1 and written["questions"] >= 30
    assert f"threshold {written['threshold']:.2f}" in capsys.readouterr().err
    settings = Settings(corpus_dir=corpus_dir, index_dir=index_dir)
    assert Pipeline.open(settings, embedder).min_confidence == written["threshold"]
    assert Pipeline.open(settings.model_copy(update={"min_confidence": 0.9}), embedder).min_confidence == 0.9


def test_calibrate_refuses_too_few_labelled_questions(built_index, tmp_path, capsys):
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir)
    items = tmp_path / "few.jsonl"
    items.write_text(json.dumps({"question": "When was the DVK banned?", "must_contain": ["13 March 2018"]}) + "\n")
    assert main(["eval", str(items), "--index-dir", str(index_dir), "--calibrate"]) == 1
    assert "needs at least 20 answerable" in capsys.readouterr().err
    assert not (index_dir / "threshold.json").exists()


def test_a_vote_whose_text_holds_a_line_separator_is_read_back(tmp_path):
    log = tmp_path / "feedback.jsonl"
    # corpus text keeps U+2028 and U+2029; json.dumps(ensure_ascii=False) writes them raw
    entries = [{"vote": "down", "question": "What does\u2028the motion say?", "answer": "It\u2029says [1]"},
               {"vote": "down", "question": "Who is X?", "answer": "Y [1]"}]
    log.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8")
    assert [e["question"] for e in feedback_log_entries(log)] == ["What does\u2028the motion say?", "Who is X?"]
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"question": "A\u2028B?", "must_contain": ["x\u0085y"]}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    loaded = load_items(items)
    assert not loaded.problems and loaded.items[0].must_contain == ("x\u0085y",)


def test_a_down_vote_later_changed_is_not_listed_and_old_entries_still_count():
    down = {"vote": "down", "question": "Who is X?", "answer": "Y [1]", "answer_id": "a1", "voter": "v1"}
    changed = [down, {**down, "vote": "up", "replaces": "down"}]
    assert feedback_candidates(changed) == []
    other_voter = [down, {**down, "voter": "v2"}, {**down, "vote": "up", "replaces": "down"}]
    assert [c["question"] for c in feedback_candidates(other_voter)] == ["Who is X?"]  # v2's 👎 stands
    legacy = {"vote": "down", "question": "Old?", "answer": "Z [1]"}  # written before entries had ids
    assert [c["question"] for c in feedback_candidates([legacy, *changed])] == ["Old?"]
