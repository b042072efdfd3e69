"""An LLM's reply read as it arrives: each sentence checked once it is complete, the supported ones shown at once.

The model writes a sentence at a time; a user should see each one as soon as it is known to be
supported, not after the whole reply. `CheckedReply` takes the reply in pieces, cuts off the
sentences that are complete, checks each against the passages it cites (index.answer.support) and
hands the text that may be shown so far to `on_text`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from index.answer.support import Support
from index.schema import Hit

# Every pattern here starts at a fixed character, so parsing is linear: a lazy one took 9 s on 20 KB of
# reply without a marker.
MARKER_RUN = re.compile(r"\[\d+\](?:\s*\[\d+\])*")
STOP_AFTER = re.compile(r"[ \t]*([.!?])")
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
NUMBER = re.compile(r"\[(\d+)\]")
MAX_DIGITS = 4  # a longer "number" is no passage of ours, and int() refuses 5,000 digits
# A sentence is complete once what follows its stop or its markers is neither space nor "[": a marker
# after "claim." still cites it, and a stop after "claim [1]" still belongs to it.
COMPLETE = re.compile(r"[.!?\]]\s+(?=[^\s\[.!?])")
# ">>" of an echoed delimiter, list dashes, stray marks, a quote mark that opens nothing
LEADING_JUNK = re.compile(r"^(?:[^\w\"“‘'(]|[\"“‘'](?=\s))+")
DECLINE = "NOT FOUND"
MAX_REPLY_CHARS = 16_000  # a reply of REPLY_TOKENS is about 1,500; an endpoint gone wild is cut here

SupportCheck = Callable[[str, list[Hit]], Support]
Verdict = tuple[str, list[int], Support]  # a sentence, the passages (1-based) it is cited to, the check's verdict


def statements(text: str, passages: int) -> list[tuple[str, list[int]]]:
    """The sentences of `text`, each with the passage numbers that cite it ([] when none does).

    Only the sentence a marker directly follows is cited by it: in "A [1]. B. C [2]." B is
    uncited, not attributed to passage 2. A stop after the markers ("claim [1].") ends the
    cited sentence. Numbers outside 1..passages cite nothing.
    """
    found: list[tuple[str, list[int]]] = []
    position = 0
    for run in MARKER_RUN.finditer(text):
        before, end = text[position : run.start()], run.end()
        stop = STOP_AFTER.match(text, end)
        if stop:
            before, end = before.rstrip() + stop.group(1), stop.end()
        position = end
        numbers = [int(n) for n in NUMBER.findall(run.group()) if len(n) <= MAX_DIGITS and 1 <= int(n) <= passages]
        *uncited, cited = _sentences(before)
        found += [(sentence, []) for sentence in uncited if _worded(sentence)]
        if _worded(cited):
            found.append((cited, list(dict.fromkeys(numbers))))
    found += [(sentence, []) for sentence in _sentences(text[position:]) if _worded(sentence)]
    return found


def cited_statements(reply: str, passages: int) -> list[tuple[str, list[int]]]:
    """The sentences of the reply a marker cites, with the passage numbers it names."""
    return [(sentence, cited) for sentence, cited in statements(reply, passages) if cited]


def _sentences(text: str) -> list[str]:
    # Of a sentence with a stray bracket, the text after it is the sentence: what comes later never
    # changes a sentence already complete, so a reply read in pieces reads as if whole.
    return [LEADING_JUNK.sub("", s[max(s.rfind("["), s.rfind("]")) + 1 :].strip())
            for s in SENTENCE_BREAK.split(text.strip())]


def _worded(sentence: str) -> bool:
    """A statement: words, and not a question (a small model echoes the prompt's "Question: …?")."""
    return re.search(r"\w", sentence) is not None and not sentence.endswith("?")


@dataclass
class CheckedReply:
    """A reply taken piece by piece; `add` returns True once the rest of it is not wanted."""

    hits: list[Hit]
    support: SupportCheck
    on_text: Callable[[str], None] | None = None  # called with the text shown so far, after each supported sentence
    most: int = 3  # sentences shown, at most: the reply is not read further
    verdicts: list[Verdict] = field(default_factory=list)
    numbers: dict[int, int] = field(default_factory=dict)  # passage rank (1-based) -> number shown to the user
    shown: str = ""
    declined: bool | None = None  # the model said NOT FOUND; None until its first characters tell
    _pending: str = ""  # text after the last complete sentence
    _read: int = 0
    _count: int = 0  # sentences shown

    def add(self, piece: str) -> bool:
        """Take the next piece of the reply; check and show the sentences it completes."""
        if self.declined or self._read >= MAX_REPLY_CHARS or self._count >= self.most:
            return True
        piece = piece[: MAX_REPLY_CHARS - self._read]
        self._read += len(piece)
        scan_from = _last_word_end(self._pending)
        self._pending += piece
        if self.declined is None and not self._decide(final=False):
            return False
        if self.declined:
            return True
        cut = None
        for cut in COMPLETE.finditer(self._pending, max(0, scan_from - 1)):
            pass
        if cut is not None:
            done, self._pending = self._pending[: cut.end()], self._pending[cut.end() :]
            self._check(done)
        return self._read >= MAX_REPLY_CHARS or self._count >= self.most

    def finish(self) -> None:
        """The reply is complete: check what is left of it."""
        if self.declined is None:
            self._decide(final=True)
        if not self.declined:
            rest, self._pending = self._pending, ""
            self._check(rest)

    def _decide(self, final: bool) -> bool:
        """Has the reply's start said whether the model declined? (It is told to reply exactly NOT FOUND.)"""
        head = self._pending.lstrip()[: len(DECLINE)].upper()
        if not final and len(head) < len(DECLINE) and DECLINE.startswith(head):
            return False
        self.declined = head == DECLINE
        return True

    def _check(self, text: str) -> None:
        for sentence, cited in statements(text, len(self.hits)):
            if self._count >= self.most:
                return
            if cited:
                verdict = self.support(sentence, [self.hits[n - 1] for n in cited])
            else:
                cited, verdict = self._attributed(sentence)
            self.verdicts.append((sentence, cited, verdict))
            if verdict.supported:
                markers = "".join(f"[{self.numbers.setdefault(n, len(self.numbers) + 1)}]" for n in cited)
                self.shown = f"{self.shown} {sentence} {markers}".lstrip()
                self._count += 1
                if self.on_text is not None:
                    self.on_text(self.shown)

    def _attributed(self, sentence: str) -> tuple[list[int], Support]:
        """A sentence the model left uncited (small models often do), cited to the passage that supports it
        best; to the closest one, unsupported, when none does."""
        verdicts = [(n, self.support(sentence, [hit])) for n, hit in enumerate(self.hits, 1)]
        n, verdict = max(verdicts, key=lambda v: (v[1].supported, v[1].alignment))
        return [n], verdict


def _last_word_end(text: str) -> int:
    """Where the text's trailing space starts: a sentence end can only be found again from there."""
    end = len(text)
    while end and text[end - 1].isspace():
        end -= 1
    return end
