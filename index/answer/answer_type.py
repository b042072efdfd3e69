"""What kind of answer a question asks for, and whether a sentence holds one it does not already say.

"When was X banned?" is answered by a sentence with a date in it, not by one that
repeats "X was banned"; this gives such sentences the edge among equals.
"""

from __future__ import annotations

import re

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
DATE = re.compile(rf"\b(\d{{1,2}}(-\d{{1,2}})?\s+({MONTHS})|({MONTHS})\s+\d{{1,2}}|(19|20)\d\d)\b", re.IGNORECASE)
NUMBER = re.compile(r"\b(\d[\d\s,.]*\d|\d+(st|nd|rd|th)?|one|two|three|four|five|six|seven|eight|nine|ten|"
                    r"eleven|twelve|fifteen|twenty|hundreds?|thousands?|dozens?)\b", re.IGNORECASE)
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[-\s][A-Z][a-z]+)*")
KINDS = (
    ("date", re.compile(r"^\s*(when|what (year|date|day|month)|since when|in what year)\b", re.IGNORECASE)),
    ("number", re.compile(r"\b(how (many|much|long|old)|what (rank|number|percentage|share|amount))\b", re.IGNORECASE)),
    ("name", re.compile(r"^\s*(who|whom|whose|which (\w+ )?(person|people|journalist|activist|leader|official|"
                        r"organi[sz]ations?|ngos?|defenders?|prisoners?|party|mep|meps))\b", re.IGNORECASE)),
    ("place", re.compile(r"^\s*(where|in (which|what) (town|city|country|place|prison))\b", re.IGNORECASE)),
)


def expected_kind(question: str) -> str | None:
    for kind, pattern in KINDS:
        if pattern.search(question):
            return kind
    return None


def holds_new_answer(kind: str | None, sentence: str, question: str) -> bool:
    """Does the sentence contain a date/number/name of the asked kind that the question itself lacks?"""
    if kind is None:
        return False
    pattern = {"date": DATE, "number": NUMBER, "name": NAME, "place": NAME}[kind]
    asked = question.lower()
    return any(match.group().lower() not in asked for match in pattern.finditer(sentence))


TYPE_NOUN = re.compile(r"^\s*(?:which|what)\s+(\w+)\s+(?:is|are|was|were|has|have|had|did|does|do|\w+s|\w+ed)\b",
                       re.IGNORECASE)


def type_noun(question: str) -> str | None:
    """The noun that names the kind of answer ("which *country* invests ..."), not its subject."""
    match = TYPE_NOUN.match(question)
    return match.group(1).lower() if match else None


# "can't" and "won't" lose more than their "n't"; the apostrophe may be typographic.
NEGATIONS = ((re.compile(r"\bcan[’']t\b", re.IGNORECASE), "can"), (re.compile(r"\bwon[’']t\b", re.IGNORECASE), "will"),
             (re.compile(r"n[’']t\b", re.IGNORECASE), ""), (re.compile(r"\b(?:not|never)\s+", re.IGNORECASE), ""))


def without_negation(question: str) -> str:
    """The question with its "not" taken out: what the answer reader's margins are read for.

    The reader was trained with unanswerable questions made by inserting a "not" (index.reader.examples),
    as SQuAD 2.0's writers made many of theirs, so any "not" reads to it as "no answer here". A user's "which
    prisoners were not released?" is answered by the passage that names them, and whether that passage
    speaks of the prisoners' release at all is what the margin should say.
    """
    for pattern, replacement in NEGATIONS:
        question = pattern.sub(replacement, question)
    return question
