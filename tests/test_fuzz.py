"""Property-based tests of everything that reads untrusted input: documents, cleaning, chunking, what is sent
to Telegram, the /source and button parsers, settings, and an LLM's reply as it streams in.

`make test` runs each with the "ci" profile, `make fuzz` with the "fuzz" one (both in conftest.py).
"""

from __future__ import annotations

import html
import os
import re
from html.parser import HTMLParser

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.handlers import SOURCE_BUTTON, VOTE_BUTTON
from bot.render import source_number
from bot.telegram_render import TELEGRAM_LIMIT, answer_messages, passage_messages
from index.ingest.chunking import chunk_document
from index.ingest.clean import clean_text
from index.answer.reply import CheckedReply
from index.answer.support import Support
from index.ingest.readers import DocumentError, ReadLimits, read_document
from index.schema import Answer, Citation, Document
from index.settings import Settings
from tests.samples import (HTML_PAGE, docx_bytes, epub_bytes, image_bytes, odt_bytes, page_image,
                           pdf_bytes, pptx_bytes, rtf_bytes, xlsx_bytes)


# Text as documents and messages hold it: words, punctuation that drives the splitters, markup, odd code points.
PIECES = st.sampled_from(["The", "council", "of", "Europe", "noted", "Kazakhstan", "Art.", "No.", "U.S.", "e.g.",
                          "1.", "A.", "(b)", ";", ":", ".", "!", "?", "\n", "\n\n", " ", "\t", "[", "]", "(", ")",
                          "**", "# ", "- ", "•", "&", "<", ">", "\u00a0", "\u200b", "\ufeff", "ü", "中文", "\U0001F600",
                          "http://x.y/z", "[link](http://a)", "Contact:", "Read more", "---\ntitle: T\n---\n"])
TEXT = st.one_of(st.text(max_size=400), st.lists(PIECES, max_size=120).map(" ".join),
                 st.lists(PIECES, max_size=120).map("".join))
SAMPLES = {
    ".txt": "The council met on 5 Jan. 2019.\n\nIt noted Art. 19 and the U.S. Senate's letter.".encode(),
    ".md": b"---\ntitle: Notes\ndate: 2020-01-02\n---\n# Heading\n\nSee [the report](http://x).\n\n- item one\n",
    ".html": HTML_PAGE.encode(),
    ".pdf": pdf_bytes(["The delegation visited Almaty in 2019.", "It met the ombudsman."], title="Visit"),
    ".docx": docx_bytes(["The delegation visited Almaty in 2019."], title="Visit",
                        table=[["City", "Visits"], ["Almaty", "3"]]),
    ".pptx": pptx_bytes([("Visit", "The delegation visited Almaty in 2019.", "It met the ombudsman.")],
                        [["City", "Visits"], ["Almaty", "3"]]),
    ".xlsx": xlsx_bytes({"Visits": [["City", "Visits"], ["Almaty", 3], ["Astana", 2.5]]}, title="Visits"),
    ".csv": b"City,Visits\nAlmaty,3\n\"Astana, the capital\",2\n",
    ".odt": odt_bytes(["The delegation visited Almaty in 2019."], [["City", "Visits"], ["Almaty", "3"]], title="Visit"),
    ".epub": epub_bytes([("Visit", "<p>The delegation visited Almaty in 2019.</p>")]),
    ".rtf": rtf_bytes(["The delegation visited Almaty in 2019.", "It met the ombudsman."]),
    # Small, so that a mutated picture that still decodes costs OCR a fraction of a second.
    ".png": image_bytes(page_image(["The delegation visited Almaty."], dpi=60, size_pt=24)),
}


def _mutated(data: bytes, draw) -> bytes:
    """The sample with bytes overwritten, inserted, deleted or a stretch repeated: how damaged files look."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["set", "insert", "delete", "repeat"]))
        if kind == "set" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "repeat":
            data[at:at] = bytes(data[at : at + draw(st.integers(1, 32))]) * draw(st.integers(2, 50))
    return bytes(data)


@pytest.mark.parametrize("suffix", sorted(SAMPLES))
@given(data=st.data())
def test_a_reader_returns_text_or_says_why_for_any_damaged_file(suffix, data, tmp_path_factory):
    path = tmp_path_factory.mktemp("doc") / f"file{suffix}"
    path.write_bytes(_mutated(SAMPLES[suffix], data.draw) if data.draw(st.booleans()) else
                     data.draw(st.binary(max_size=2000)))
    try:
        document = read_document(path, path.name, ReadLimits(max_bytes=2**20, max_chars=10**6))
    except DocumentError as error:
        assert str(error) and "\n" not in str(error)  # one line, for the build report
        return
    assert document.text.strip() and document.title


@given(TEXT)
def test_cleaning_keeps_the_words_and_leaves_no_blank_runs(raw):
    cleaned = clean_text(raw)
    assert "\r" not in cleaned and "\t" not in cleaned and "\n\n\n" not in cleaned
    assert cleaned == cleaned.strip() or not cleaned.strip()
    # Nothing is invented, markup and furniture may go: no character the input lacks, no more of any letter.
    assert set(cleaned) <= set(raw) | {" ", "\n"}
    assert all(cleaned.count(c) <= raw.count(c) for c in set(cleaned) if c.isalnum())


@given(text=TEXT, max_tokens=st.integers(32, 256), overlap=st.integers(0, 64))
@example(text='."0', max_tokens=32, overlap=0)  # found: a paragraph of scraps was dropped, and crashed counting
@example(text="002A000000000000000000000002:\ra000000000000000002: 0\r0", max_tokens=32, overlap=0)  # uneven words
def test_chunks_quote_the_document_exactly_cover_every_word_and_fit_the_model(text, max_tokens, overlap, embedder):
    text = clean_text(text)
    assume(text.strip())
    doc = Document("d.txt", "Title", None, None, text, "x")
    chunks = chunk_document(doc, 0, embedder.count_tokens, max_tokens, overlap)
    budget = max(16, max_tokens - embedder.count_tokens(["Title"])[0] - 3)
    covered = [False] * len(text)
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        for start, end in chunk.sentences:
            assert 0 <= start < end <= len(chunk.text)
            covered[chunk.start + start : chunk.start + end] = [True] * (end - start)
    assert max(embedder.count_tokens([c.text for c in chunks])) <= max(budget, _longest_word_tokens(text, embedder))
    assert all(covered[m.start()] for m in re.finditer(r"\S+", text))


def _longest_word_tokens(text: str, embedder) -> int:
    """A single word longer than a chunk cannot be cut further without breaking it; it is a chunk alone."""
    return max(embedder.count_tokens(text.split()), default=0)


CITATIONS = st.builds(Citation, n=st.integers(1, 20), doc_id=st.text(max_size=300), title=st.text(max_size=300),
                      date=st.one_of(st.none(), st.text(max_size=40)), source=st.one_of(st.none(), st.text(max_size=300),
                      st.text(max_size=300).map("https://x/".__add__)), quote=TEXT | st.text(min_size=3000,
                      max_size=9000) | st.text(alphabet="&<>", min_size=1000, max_size=5000), score=st.just(0.5))


class _Balanced(HTMLParser):
    """Telegram rejects a message whose tags do not pair up."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag


def _assert_sendable(messages: list[str]) -> None:
    assert messages
    for message in messages:
        assert 0 < len(message) <= TELEGRAM_LIMIT and message.strip()
        parser = _Balanced()
        parser.feed(message)
        parser.close()
        assert not parser.open
        assert not re.search(r"&(?!(amp|lt|gt|quot|#x27);)", message)  # every & is an entity Telegram knows


@given(CITATIONS)
def test_every_passage_message_fits_telegram_and_is_valid_html(citation):
    _assert_sendable(passage_messages(citation))


@given(TEXT | st.text(min_size=4000, max_size=9000), st.lists(CITATIONS, max_size=6), st.booleans())
def test_every_answer_message_fits_telegram_and_is_valid_html(text, citations, found):
    assume(text.strip())
    messages = answer_messages(Answer("q", text, found, tuple(citations)))
    _assert_sendable(messages)
    assert html.unescape(re.sub(r"<[^>]+>", "", "".join(messages))).count("[") >= text.count("[")


@given(st.text(max_size=30) | st.from_regex(r"[0-9]{1,6}", fullmatch=True), st.integers(0, 20))
def test_a_source_number_is_a_listed_source_or_none(typed, count):
    number = source_number(typed, count)
    if number is not None:
        assert 1 <= number <= count and typed == str(number).zfill(len(typed)) and typed.isascii()


@given(st.text(max_size=40) | st.from_regex(r"(src|fb):[0-9a-fA-F]{0,9}:[\w\n]{0,4}\n?", fullmatch=True))
def test_button_data_is_taken_only_in_the_bots_own_shapes(data):
    source, vote = SOURCE_BUTTON.match(data), VOTE_BUTTON.match(data)
    if source:
        answer_id, n = source.groups()
        assert re.fullmatch(r"[0-9a-f]{8}", answer_id) and 0 <= int(n) < 100 and data == f"src:{answer_id}:{n}"
    if vote:
        assert vote.group(2) in ("up", "down") and "\n" not in data


ENV_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")  # what a variable can hold
NUMERIC = [name for name, field in Settings.model_fields.items() if field.annotation in (int, float, float | None)]
SETTING_VALUES = st.one_of(st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e309", "1e-300", "", " ", "0x10",
                                            "1_000", "9" * 400, "١٢", "²"]), st.text(ENV_CHARACTERS, max_size=12),
                           st.floats(allow_nan=True).map(str), st.integers(-10**12, 10**12).map(str))


@given(st.sampled_from(NUMERIC), SETTING_VALUES)
@example("candidates", "9" * 400)  # found: integer settings had no upper bound
def test_a_numeric_setting_is_a_sane_number_or_refused_by_name(name, value):
    os.environ[f"CITEBOT_{name.upper()}"] = value
    try:
        loaded = Settings(_env_file=None)
    except ValidationError as error:
        assert name in str(error)
        return
    finally:
        del os.environ[f"CITEBOT_{name.upper()}"]
    number = getattr(loaded, name)
    assert number is None or (abs(number) < 10**13 and number == number)
    for check in Settings.model_fields[name].metadata:
        for bound, holds in (("gt", lambda b: number > b), ("ge", lambda b: number >= b),
                             ("lt", lambda b: number < b), ("le", lambda b: number <= b)):
            if number is not None and getattr(check, bound, None) is not None:
                assert holds(getattr(check, bound))


# What an LLM's reply is made of: words, stops, markers (in and out of range, runs, stray brackets), echoes.
REPLY_PIECES = st.sampled_from(["The", "council", "met", "in", "2018", "Pope", "NOT FOUND", "not", "e.g.", "Mr.",
                                ".", "!", "?", ",", " ", "  ", "\n", "\n\n", "\t", "[1]", "[2]", "[9]", "[0]",
                                "[12345]", "[", "]", "[1][2]", "[1] [2]", ">>", "<<<", "\"", "Question:", "ü"])


def _stand_in_check(sentence: str, cited: list) -> Support:
    """A stand-in for the support check, which needs the model: a sentence is supported iff it names the council."""
    return Support("council" in sentence, 1.0 if "council" in sentence else 0.0)


def _read(pieces: list[str], hits: list) -> CheckedReply:
    shown: list[str] = []
    reply = CheckedReply(hits, _stand_in_check, shown.append, most=3)
    for piece in pieces:
        if reply.add(piece):
            break
    reply.finish()
    # What was shown grew sentence by sentence, each step a supported sentence more, and ended as the answer.
    assert all(b.startswith(a + " ") for a, b in zip(shown, shown[1:])) and (shown[-1] if shown else "") == reply.shown
    # Shown: the supported sentences, in order, each with its markers, and nothing else.
    supported = [text for text, _, verdict in reply.verdicts if verdict.supported]
    assert re.sub(r" (?:\[\d+\])+", "", reply.shown) == " ".join(supported) and len(supported) <= 3
    assert len(re.findall(r"(?:\[\d+\])+", reply.shown)) == len(supported)
    return reply


@given(st.lists(REPLY_PIECES, max_size=80), st.data())
def test_a_reply_read_in_any_pieces_is_checked_and_shown_as_if_read_whole(words, data):
    hits = [object(), object()]  # the stand-in check never reads them; two passages make [1] and [2] valid
    text = "".join(words)
    whole = _read([text], hits)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=30)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    streamed = _read(pieces, hits)
    assert (streamed.shown, streamed.declined, [(t, c) for t, c, _ in streamed.verdicts]) == \
        (whole.shown, whole.declined, [(t, c) for t, c, _ in whole.verdicts])


@given(st.text(alphabet="<>[]EN D1", max_size=60))
@example("<<>>><END OF PASSAGE [1]>><<<>")
def test_no_passage_delimiter_survives_quoting(text):
    from index.answer.llm import _quoted

    quoted = _quoted(text)
    assert "<<<" not in quoted and ">>>" not in quoted
