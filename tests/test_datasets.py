"""Labelled sets: SQuAD files become a corpus and items; the split is by document and fixed."""

from __future__ import annotations

import json

import pytest

from index.evaluate.datasets import DatasetError, load_splits, part_of, squad_to_corpus
from index.evaluate.run import EvalItem, load_items

SQUAD = {"data": [{"title": "Steam_engine", "paragraphs": [
    {"context": "Watt improved the engine in 1781.",
     "qas": [{"id": "q1", "question": "When did Watt improve it?", "answers": [{"text": "1781"}],
              "is_impossible": False},
             {"id": "q2", "question": "When did Newton improve it?", "answers": [], "is_impossible": True}]}]}]}


def test_a_squad_file_becomes_a_corpus_and_eval_items(tmp_path):
    source = tmp_path / "squad.json"
    source.write_text(json.dumps(SQUAD))
    corpus, items_path = squad_to_corpus(source, tmp_path / "out")
    text = (corpus / "Steam_engine.txt").read_text()
    assert text.startswith("---\ntitle: Steam engine\n") and "Watt improved the engine in 1781." in text
    items = load_items(items_path).items
    assert [(i.id, i.must_contain, i.unanswerable, i.gold_docs) for i in items] == [
        ("q1", ("1781",), False, ("Steam_engine.txt",)), ("q2", (), True, ("Steam_engine.txt",))]


@pytest.mark.parametrize("content", ['{"data": 5}', '{"data": [{"title": "x"}]}', "not json", "[]"])
def test_a_file_not_shaped_like_squad_is_one_clear_error(tmp_path, content):
    source = tmp_path / "squad.json"
    source.write_text(content)
    with pytest.raises(DatasetError, match="is not a SQuAD-format file"):
        squad_to_corpus(source, tmp_path / "out")


def test_items_follow_their_document_and_the_rest_a_fixed_hash():
    report = load_splits()
    assert part_of(EvalItem("q", "a", gold_docs=("Warsaw.txt",)), report) == "report"
    assert part_of(EvalItem("q", "a", gold_docs=("Normans.txt",)), report) == "development"
    parts = {part_of(EvalItem("q", f"u{n}", unanswerable=True), report) for n in range(30)}
    assert parts == {"report", "development"}
    assert part_of(EvalItem("q", "u7", unanswerable=True), report) == part_of(EvalItem("other", "u7"), report)
