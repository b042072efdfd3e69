"""The span reader: its inputs, its made negatives, the shipped model's checks, and the short answer a user sees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest

from index.reader.examples import Example, with_negatives
from index.reader.model import DEFAULT_FOLDER, FORMAT, Reader, ReaderError
from index.reader.unsigned import unsigned_weights
from index.reader.windows import windows

ODF = "2017-11-odf-meps-political-prisoners-eu-kazakhstan-pca.md"


@pytest.fixture(scope="session")
def tokenizer():
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(DEFAULT_FOLDER / "tokenizer.json"))
    loaded.no_padding()
    loaded.no_truncation()
    return loaded


@pytest.fixture(scope="session")
def reader() -> Reader:
    return Reader.load()


def test_a_long_passage_is_read_in_overlapping_windows_that_find_its_answer(tokenizer):
    passage = " ".join(f"Sentence {i} says little." for i in range(60)) + " The dialogue took place in Astana."
    answer_start = passage.index("Astana")
    found = windows(tokenizer, "Where did the dialogue take place?", passage, max_tokens=64, overlap=16)
    assert len(found) > 5
    assert all(len(w.ids) <= 64 for w in found)
    spans = [w.token_span(answer_start, answer_start + len("Astana")) for w in found]
    held = [(w, s) for w, s in zip(found, spans) if s is not None]
    assert held, "no window holds the answer"
    window, (first, last) = held[-1]
    start, end = window.offsets[first - window.context_from][0], window.offsets[last - window.context_from][1]
    assert passage[start:end] == "Astana"
    # neighbouring windows share tokens, so an answer at a boundary is whole in one of them
    assert found[1].offsets[0][0] < found[0].offsets[-1][1]


def test_made_negatives_are_questions_their_paragraph_does_not_answer():
    context = "In 1854 the bridge over the Vistula was built by Stanisław Kierbedź in Warsaw."
    other = "The Royal Castle was rebuilt in 1971 under the direction of Jan Zachwatowicz."
    found = [Example("Warsaw", "Who built the bridge over the Vistula in 1854?", context, "Stanisław Kierbedź",
                     context.index("Stanisław")),
             Example("Warsaw", "When was the Royal Castle rebuilt?", other, "1971", other.index("1971"))]
    made = [e for e in with_negatives(found, rate=1.0, seed=1) if not e.answerable]
    kinds = {e.kind for e in made}
    assert {"other-paragraph", "swapped"} <= kinds
    for negative in made:
        assert negative.answer_start == -1
        if negative.kind == "other-paragraph":
            assert negative.context != context or negative.question != found[0].question
        if negative.kind == "swapped":
            original = next(e for e in found if e.context == negative.context)
            assert negative.question != original.question
            swapped_in = set(negative.question.split()) - set(original.question.split())
            assert swapped_in and not any(word.strip("?") in negative.context for word in swapped_in)


def test_look_alikes_made_from_the_paragraphs_own_words_are_not_answered_by_it():
    context = ("The Vistula is the longest river in Poland. In 1854 the first bridge over it was built by "
               "Stanisław Kierbedź. The Royal Castle stands above it in Warsaw.")
    found = [Example("Warsaw", "What is the longest river in Poland?", context, "Vistula", context.index("Vistula")),
             Example("Warsaw", "Who built the first bridge over the Vistula?", context, "Stanisław Kierbedź",
                     context.index("Stanisław"))]
    made = {e.question: e.kind for e in with_negatives(found, rate=1.0, seed=1, kinds=("opposite", "swapped-within"))
            if not e.answerable}
    # "longest" has no "shortest" in the paragraph; "first" has "last" nowhere either
    assert made.get("What is the shortest river in Poland?") == "opposite"
    assert made.get("Who built the last bridge over the Vistula?") == "opposite"
    # a name swapped for another the paragraph names outside the answer's sentence, never the answer itself, nor
    # a sentence's capitalised first word ("In")
    swapped = {question for question, kind in made.items() if kind == "swapped-within"}
    assert swapped & {"Who built the first bridge over the Poland?", "Who built the first bridge over the Warsaw?"}
    assert swapped <= {"Who built the first bridge over the Poland?", "Who built the first bridge over the Warsaw?",
                       "What is the longest river in Warsaw?"}, swapped


def test_a_second_training_stage_reads_questions_the_first_never_saw(tmp_path):
    from dataclasses import replace

    from index.reader.train import RECIPES, sample, train

    paragraphs = [f"In {1800 + i} the bridge number {i} over the Vistula was built by Jan Kowalski{i}." for i in range(200)]
    found = [Example(f"Article{i % 4}", f"When was bridge number {i} built?", text, str(1800 + i),
                     text.index(str(1800 + i))) for i, text in enumerate(paragraphs)]
    first = RECIPES["tiny"]
    second = replace(first, name="tiny-more", examples=40, seed=first.seed + 1, continues="tiny")
    drawn_first, drawn_second = sample(found, first), sample(found, second)
    assert len(drawn_second) == 40
    assert not set(drawn_first) & set(drawn_second)
    assert sample(found, second) == drawn_second  # seeded: the same data draws the same examples
    with pytest.raises(SystemExit, match="--start"):
        train(second, tmp_path, tmp_path / "squad.json", tmp_path / "out", start=None)
    with pytest.raises(SystemExit, match="--start"):  # a folder that holds no first stage's card
        train(second, tmp_path, tmp_path / "squad.json", tmp_path / "out", start=tmp_path)


def test_the_shipped_reader_finds_a_date_and_a_name(reader):
    text = ("Ahead of the EU-Kazakhstan Human Rights Dialogue in Astana on 29 November 2017, the MEPs wrote a "
            "letter. Chair of the delegation: Christian Sagartz (EPP, Austria).")
    when, who = reader.read("When was the human rights dialogue in 2017?", [text])[0], \
        reader.read("Who chaired the delegation?", [text])[0]
    assert "29 November 2017" in text[when.start : when.end]
    assert "Sagartz" in text[who.start : who.end]


def test_a_passage_read_under_its_documents_title_and_date_is_answered_from_the_passage():
    # Not what the shipped answer model weighs (README, "What limits it"); bench/reader_features.py --reads measures it
    from index.answer.features import Reads
    from index.answer.short import PassageReads
    from index.schema import Chunk, DocInfo, Hit
    from index.settings import Settings

    text = ("Composition of the delegation\n\nChair of the delegation: Christian Sagartz (EPP, Austria)\n"
            "Members: Hannah Neumann (Greens/EFA, Germany)")
    title = "MEPs assessed the human rights situation in Kazakhstan (European Parliament press release)"
    press = DocInfo("press.txt", title, "2022-08-24", None)  # the bundled corpus's press release
    hit = Hit(Chunk(0, press.doc_id, text, 0, len(text), ((0, len(text)),)), press, 0.5, (0.5,), 0, 0)
    answer_reader = Reader.load(Settings().answer_reader_model)
    headed = Reads(under_heading=True)
    # "in 2022" and "Kazakhstan" are only in the press release's heading: bare, its list of names answers nothing.
    who = "who chaired the delegation to Kazakhstan in 2022?"
    bare, read = answer_reader.read(who, [text])[0], PassageReads(answer_reader, who, [hit]).margins(headed)[0]
    assert text[read.start : read.end] == "Christian Sagartz"  # offsets in the passage, not the heading
    assert read.margin > bare.margin + 10
    # The heading is read, never answered with: its date, the likeliest answer here, is not the span.
    when = "When did the MEPs assess the human rights situation in Kazakhstan?"
    heading = f"{title}. 2022-08-24"
    assert heading[answer_reader.read(when, [f"{heading}\n\n{text}"])[0].start :].startswith("2022-08-24")
    dated = PassageReads(answer_reader, when, [hit]).margins(headed)[0]
    assert not dated.empty and dated.end <= len(text)
    assert PassageReads(answer_reader, when, [hit]).margins()[0] == answer_reader.read(when, [text])[0]  # shipped: bare


def test_a_damaged_reader_is_refused_with_one_line(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(DEFAULT_FOLDER, folder)
    model = folder / "model.onnx"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(ReaderError, match="cannot load the reader") as raised:
        Reader.load(folder)
    assert "\n" not in str(raised.value)


def test_a_reader_whose_card_is_not_its_model_is_refused(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(DEFAULT_FOLDER, folder)
    card = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
    card["check"]["answer"] = "not what the model reads"
    (folder / "reader.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ReaderError, match="check question"):
        Reader.load(folder)
    (folder / "reader.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ReaderError, match="not a reader card"):
        Reader.load(folder)


@pytest.mark.parametrize("which", ["span reader", "answer reader"])
def test_the_shipped_readers_are_small_and_have_their_cards(which):
    from index.settings import Settings

    folder = DEFAULT_FOLDER if which == "span reader" else Settings().answer_reader_model
    card = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
    assert (folder / "model.onnx").stat().st_size <= 30 * 2**20
    assert card["training"]["recipe"]["name"] in ("cpu", "cpu-more", "cpu-hard", "gpu")
    assert card["training"]["base_model"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert 0 < card["validation"]["forced_f1"] <= 1
    assert unsigned_weights(onnx.load(str(folder / "model.onnx"))) == 0, "signed weights: run make export-reader"


def test_an_int8_model_multiplies_exactly_once_its_weights_are_unsigned():
    import numpy as np
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    # Full-scale products: where a CPU has AVX2 without VNNI, int8 weights give 1,048,544 here, not 2,072,640.
    weights = np.full((64, 8), 127, np.int8)
    weights[:, 1], weights[::3, 2] = -128, -77
    activations = np.stack([np.full(64, 255, np.uint8), (np.arange(64) * 4 % 256).astype(np.uint8)])
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "w", "a_zero", "w_zero"], ["y"])], "products",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 64])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 8])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.array(0, np.int8), "w_zero"),
         numpy_helper.from_array(np.array(0, np.uint8), "a_zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    assert unsigned_weights(model) == 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    exact = activations.astype(np.int64) @ weights.astype(np.int64)
    assert (session.run(None, {"a": activations})[0] == exact).all()


def test_an_exported_reader_has_unsigned_weights_and_reads(tmp_path):
    from transformers import BertConfig, BertForQuestionAnswering

    from index.reader.export import export

    # A small random model of the reader's kind: the export's path, not its training, is what is checked here.
    config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128)
    BertForQuestionAnswering(config).save_pretrained(tmp_path / "weights")
    staging = export(tmp_path / "weights", tmp_path / "reader")
    model = onnx.load(str(staging / "model.onnx"))
    assert any(node.op_type == "MatMulInteger" for node in model.graph.node)
    assert unsigned_weights(model) == 0
    (staging / "reader.json").write_text(json.dumps({"format": FORMAT, "max_tokens": 64, "overlap": 16,
                                                     "threshold": 0.0}), encoding="utf-8")
    [read] = Reader(staging).read("Where did the dialogue take place?", ["The dialogue took place in Astana."])
    assert read.start <= read.end


def test_a_date_question_gets_the_date_first_cited_to_its_passage(pipeline):
    answer = pipeline.ask("When did an EU delegation visit Bokayev in detention?")
    assert answer.found, answer.answer
    assert answer.span is not None, answer.answer
    assert "November 24, 2017" in answer.span.text
    cited = next(c for c in answer.citations if c.n == answer.span.citation)
    assert cited.doc_id == ODF
    assert cited.quote[answer.span.start : answer.span.end] == answer.span.text
    assert answer.answer.startswith("We welcome the fact that on November 24, 2017")


def test_a_declined_question_has_no_short_answer(pipeline):
    answer = pipeline.ask("What is the capital of France?")
    assert not answer.found
    assert answer.span is None


def test_the_json_answer_carries_the_span(pipeline):
    from index.schema import Answer

    answer = pipeline.ask("When did an EU delegation visit Bokayev in detention?")
    data = json.loads(json.dumps(answer.to_json()))
    assert set(data["span"]) == {"text", "citation", "start", "end"}
    assert Answer.from_json(data) == answer


def test_without_the_reader_the_answer_is_the_sentences_alone(built_index, embedder, corpus_dir):
    from index.pipeline import Pipeline
    from index.settings import Settings

    plain = Pipeline.open(Settings(corpus_dir=corpus_dir, index_dir=built_index, reader=False), embedder)
    answer = plain.ask("When did an EU delegation visit Bokayev in detention?")
    assert answer.found and answer.span is None
    assert "November 24, 2017" in answer.answer


def test_a_missing_reader_model_is_reported_at_start(built_index, embedder, corpus_dir, tmp_path):
    from index.pipeline import Pipeline
    from index.settings import Settings

    with pytest.raises(ReaderError, match=str(tmp_path)):
        Pipeline.open(Settings(corpus_dir=corpus_dir, index_dir=built_index, reader_model=tmp_path / "none"),
                      embedder)


def test_another_span_reader_changes_the_short_answer_never_which_questions_are_answered(
        built_index, embedder, corpus_dir):
    from index.pipeline import Pipeline
    from index.settings import Settings

    settings = Settings(corpus_dir=corpus_dir, index_dir=built_index)
    shipped = Pipeline.open(settings, embedder)
    # the answer model's own reader as the span reader too: loaded once, read once
    one = Pipeline.open(settings.model_copy(update={"reader_model": settings.answer_reader_model}), embedder)
    assert one.reading.reader is one.reading.answer_reader
    assert shipped.reading.reader is not shipped.reading.answer_reader
    for question in ("When did an EU delegation visit Bokayev in detention?", "who chaired the DROI delegation?",
                     "who founded the Open Dialog Foundation", "hi"):
        mine, other = shipped.ask(question), one.ask(question)
        assert (mine.found, mine.confidence) == (other.found, other.confidence), question


def test_the_shipped_reader_folders_hold_only_what_is_loaded():
    from index.settings import Settings

    for folder in (DEFAULT_FOLDER, Settings().answer_reader_model):
        assert sorted(p.name for p in Path(folder).iterdir()) == ["model.onnx", "reader.json", "tokenizer.json"]


def test_the_span_goes_first_above_the_margin_where_it_beats_its_sentence():
    import math

    from index.reader.tune import best_margin

    # (margin, F1 of the span, F1 of the sentence): sure spans are right, unsure ones wrong
    corpus = [(5.0, 1.0, 0.2), (4.0, 1.0, 0.3), (1.0, 0.0, 0.3), (0.5, 0.0, 0.2), (-math.inf, 0.0, 0.4)]
    squad = [(6.0, 0.9, 0.1), (0.8, 0.1, 0.3)]
    threshold, f1 = best_margin({"corpus": corpus, "squad2": squad})
    assert 1.0 < threshold < 4.0
    assert f1 == {"corpus": round((1 + 1 + 0.3 + 0.2 + 0.4) / 5, 4), "squad2": round((0.9 + 0.3) / 2, 4)}
    always, _ = best_margin({"corpus": [(0.1, 1.0, 0.0), (0.2, 1.0, 0.0)]})
    assert always == -math.inf
