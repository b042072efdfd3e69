"""The `citebot` command as a user runs it: JSON contract, batches, and one clean line per error."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

CITEBOT = str(Path(sys.executable).with_name("citebot"))
MARKER = re.compile(r"\[(\d+)\]")


def check_answer_contract(record: dict) -> None:
    assert set(record) == {"question", "answer", "found", "confidence", "mode", "citations", "sentences", "span",
                           "nearest"}
    assert isinstance(record["question"], str) and isinstance(record["answer"], str)
    assert isinstance(record["found"], bool)
    for citation in record["citations"]:
        assert set(citation) == {"n", "doc_id", "title", "date", "source", "quote", "score", "focus", "place"}
        focus = citation["focus"]
        assert focus is None or 0 <= focus[0] < focus[1] <= len(citation["quote"])
        assert isinstance(citation["n"], int) and isinstance(citation["score"], float)
        assert isinstance(citation["doc_id"], str) and isinstance(citation["title"], str)
        assert citation["date"] is None or isinstance(citation["date"], str)
        assert citation["source"] is None or isinstance(citation["source"], str)
        assert isinstance(citation["quote"], str) and citation["quote"]
    numbers = {c["n"] for c in record["citations"]}
    assert {int(n) for n in MARKER.findall(record["answer"])} <= numbers
    if record["span"] is not None:  # the short answer: exact words of the citation it names
        quote = next(c["quote"] for c in record["citations"] if c["n"] == record["span"]["citation"])
        assert quote[record["span"]["start"] : record["span"]["end"]] == record["span"]["text"]
    if record["nearest"] is not None:  # declined: the first closest passage's focus, as quoted, with its [1]
        assert not record["found"] and record["nearest"].endswith(" [1]")


def test_ask_json_prints_one_object_with_the_contract(built_index, capsys):
    assert main(["ask", "--json", "--index-dir", str(built_index), "When was the DVK movement banned?"]) == 0
    out = capsys.readouterr().out
    record = json.loads(out)
    check_answer_contract(record)
    assert record["found"] and "13 March 2018" in record["answer"]
    quotes = {c["n"]: c["quote"] for c in record["citations"]}
    for statement, n in re.findall(r"(.+?) \[(\d+)\](?: |$)", record["answer"]):
        assert statement.strip() in quotes[int(n)]


def test_ask_prints_answer_then_numbered_sources_with_passages(built_index, capsys):
    assert main(["--index-dir", str(built_index), "ask", "What rank did Kazakhstan have in the press freedom index?"]) == 0
    out = capsys.readouterr().out
    answer, sources = out.split("\n\nSources:\n")
    assert "158th" in answer and "[1]" in answer
    assert sources.startswith("[1] European Parliament motion for a resolution")
    assert "(2019-03)" in sources and "158th out of 180 countries" in sources


def test_batch_from_a_file_answers_each_line(built_index, tmp_path, capsys):
    batch = tmp_path / "questions.txt"
    batch.write_text("When was the DVK movement banned?\n\nWhat is the capital of France?\n")
    assert main(["ask", "--json", "--batch", str(batch), "--index-dir", str(built_index)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["found"] for r in records] == [True, False]
    for record in records:
        check_answer_contract(record)


def test_batch_from_standard_input(built_index, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("Who is Malik Kenzhaliev?\n"))
    assert main(["ask", "--json", "--batch", "-", "--index-dir", str(built_index)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "former judge" in record["answer"]


def test_a_batch_line_with_no_words_is_refused_and_the_rest_answered(built_index, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("?!\nWho is Malik Kenzhaliev?\n\U0001F642\nWhat is the capital of France?\n"))
    assert main(["ask", "--json", "--batch", "-", "--index-dir", str(built_index)]) == 1  # a script sees the refusals
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["question"] for r in records] == ["?!", "Who is Malik Kenzhaliev?", "\U0001F642",
                                                "What is the capital of France?"]
    assert [r.get("error", "") for r in records[::2]] == ["the question is empty; ask something about the documents"] * 2
    assert "former judge" in records[1]["answer"] and records[3]["found"] is False
    monkeypatch.setattr("sys.stdin", io.StringIO("?!\nWho is Malik Kenzhaliev?\n"))
    assert main(["ask", "--batch", "-", "--index-dir", str(built_index)]) == 1
    out, err = capsys.readouterr()
    assert "former judge" in out and err == "citebot: error: '?!': the question is empty; ask something about the documents\n"


def test_ask_json_with_no_words_still_prints_json(tmp_path, capsys):
    assert main(["ask", "--json", "--index-dir", str(tmp_path / "idx"), "\U0001F642"]) == 1
    assert json.loads(capsys.readouterr().out) == {"question": "\U0001F642",
                                                   "error": "the question is empty; ask something about the documents"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "   "], "the question is empty"),
        (["ask", "?!"], "the question is empty"),
        (["ask", "--batch", "/no/such/file.txt"], "batch file /no/such/file.txt does not exist"),
        (["index", "--corpus", "/no/such/corpus"], "corpus folder /no/such/corpus does not exist"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(argv, message, capsys, tmp_path):
    assert main([*argv, "--index-dir", str(tmp_path / "idx")]) == 1
    err = capsys.readouterr().err
    assert err == f"citebot: error: {message}\n" or err.startswith(f"citebot: error: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_index_on_a_corpus_of_nothing_readable_fails_clearly(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.txt").write_text("")
    assert main(["index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")]) == 1
    err = capsys.readouterr().err
    assert "nothing in" in err and "empty.txt: empty file" in err


def test_index_reports_skipped_files_and_then_is_up_to_date(tmp_path, corpus_dir, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    source = corpus_dir / "2018-02-21-ep-answer-e-007094-2017-dzhakishev-tokmadi.txt"
    (corpus / source.name).write_bytes(source.read_bytes())
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    args = ["index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx"), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == [source.name] and report["documents"] == 1 and report["chunks_embedded"] > 0
    assert report["failed"] == [{"doc_id": "broken.pdf", "error": report["failed"][0]["error"]}]
    assert "unreadable PDF" in report["failed"][0]["error"]
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["added"], again["changed"], again["removed"], again["unchanged"]) == ([], [], [], 1)
    assert again["chunks_embedded"] == 0 and again["failed"][0]["doc_id"] == "broken.pdf"
    assert main([*args, "--strict"]) == 1


def test_console_script_answers_offline_with_json(built_index, subprocess_env):
    result = subprocess.run([CITEBOT, "ask", "--json", "--index-dir", str(built_index), "why is maks bokayev in prison"],
                            capture_output=True, text=True, env=subprocess_env, timeout=300)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    check_answer_contract(record)
    assert record["found"] and "Bokayev" in record["answer"]
    assert "Traceback" not in result.stderr and "NetworkBlocked" not in result.stderr


def test_console_script_without_an_index_says_how_to_build_one(tmp_path, subprocess_env):
    result = subprocess.run([CITEBOT, "ask", "--index-dir", str(tmp_path / "none"), "anything"],
                            capture_output=True, text=True, env=subprocess_env, timeout=120)
    assert result.returncode == 1
    assert result.stderr == f"citebot: error: no index in {tmp_path / 'none'}; build one with `citebot index`\n"
    assert result.stdout == ""


def test_console_script_with_stale_chunking_says_rebuild(built_index, subprocess_env):
    env = {**subprocess_env, "CITEBOT_CHUNK_TOKENS": "120"}
    result = subprocess.run([CITEBOT, "ask", "--index-dir", str(built_index), "anything"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "rebuild it with `citebot index`" in result.stderr and result.stderr.count("\n") == 1
