"""The reader's labelled examples: SQuAD paragraphs with their questions, and the unanswerable ones made for them.

`squad-train` holds 87,916 answerable questions and few unanswerable ones, so a reader trained
on it alone would always answer. Three kinds of negative are made, each a question its
paragraph looks like it answers but does not:
- the question beside another paragraph of its article (same topic, other facts);
- a name, number or year of the question swapped for another of its kind from the article
  that the paragraph does not hold (over half of SQuAD 2.0's human-written negatives are such swaps);
- a negation put into the question ("Who was not elected ...").
Two more come closer to what SQuAD 2.0's writers did, whose look-alikes use the paragraph's own words:
- a word of the question turned into its opposite that the paragraph never uses ("largest" → "smallest");
- a name or number of the question swapped for another of the same paragraph, from outside the sentence
  that holds the answer ("What did Westinghouse sell to Tesla?").
Which questions get which is drawn from a seeded generator, so the same data gives the same examples.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*\b")
NUMBER = re.compile(r"\b\d[\d,.]*\b")
AUXILIARY = re.compile(r"\b(is|was|are|were|did|does|do|has|had|have|can|could|will|would)\b")
QUESTION_WORDS = frozenset("What Which Who Whom Whose When Where Why How In On At By For From Of To The A An".split())
_PAIRS = """largest smallest, biggest smallest, highest lowest, most least, first last, earliest latest,
oldest newest, longest shortest, before after, more less, increase decrease, increased decreased, north south,
east west, northern southern, eastern western, maximum minimum, major minor, best worst, higher lower,
larger smaller, older younger, longer shorter, won lost, above below, inside outside, upper lower, top bottom,
early late, began ended, rise fall, private public, internal external, import export, imports exports,
positive negative, success failure, successful unsuccessful, allowed forbidden, legal illegal, same different"""
OPPOSITE = {a: b for pair in _PAIRS.split(",") for a, b in [pair.split()]}
OPPOSITE |= {b: a for a, b in list(OPPOSITE.items()) if b not in OPPOSITE}
WORD = re.compile(r"[A-Za-z]+")
NEGATIVE_KINDS = ("other-paragraph", "swapped", "negated")  # the kinds made unless a recipe names others


@dataclass(frozen=True)
class Example:
    """A question over a paragraph; `answer_start` -1 and `answer` "" when the paragraph does not answer it."""

    article: str
    question: str
    context: str
    answer: str
    answer_start: int
    kind: str = "answerable"  # or: real-negative, other-paragraph, swapped, negated

    @property
    def answerable(self) -> bool:
        return self.answer_start >= 0


def read_squad(path: Path) -> list[dict[str, Any]]:
    """The articles of a SQuAD-format file, plain or gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)["data"]


def examples(articles: Iterable[dict[str, Any]]) -> list[Example]:
    """Each question with its paragraph, as labelled: its first answer, or none."""
    found = []
    for article in articles:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = [a for a in qa.get("answers", []) if a["text"].strip()]
                if qa.get("is_impossible") or not answers:
                    found.append(Example(article["title"], qa["question"].strip(), context, "", -1, "real-negative"))
                    continue
                first = answers[0]
                start = _checked_start(context, first["text"], first["answer_start"])
                if start >= 0:
                    found.append(Example(article["title"], qa["question"].strip(), context, first["text"], start))
    return found


def _checked_start(context: str, text: str, start: int) -> int:
    if context[start : start + len(text)] == text:
        return start
    return context.find(text)


def with_negatives(answerable: list[Example], rate: float, seed: int,
                   kinds: tuple[str, ...] = NEGATIVE_KINDS) -> list[Example]:
    """The examples, and for a share `rate` of the answerable ones a negative of each of `kinds` that can be made."""
    rng = random.Random(seed)
    by_article: dict[str, list[str]] = {}
    for example in answerable:
        contexts = by_article.setdefault(example.article, [])
        if not contexts or contexts[-1] != example.context:
            contexts.append(example.context)
    made = []
    for example in answerable:
        if not example.answerable or rng.random() >= rate:
            continue
        for kind in kinds:
            negative = _MAKERS[kind](example, by_article[example.article], rng)
            if negative is not None:
                made.append(negative)
    return answerable + made


def _other_paragraph(example: Example, contexts: list[str], rng: random.Random) -> Example | None:
    others = [c for c in contexts if c != example.context and example.answer.lower() not in c.lower()]
    if not others:
        return None
    return replace(example, context=rng.choice(others), answer="", answer_start=-1, kind="other-paragraph")


def _swapped(example: Example, contexts: list[str], rng: random.Random) -> Example | None:
    """A name or number of the question replaced by one from elsewhere in the article, absent from the paragraph."""
    def pool(pattern: re.Pattern) -> set[str]:
        return {m.group() for c in contexts for m in pattern.finditer(c) if m.group() not in example.context}

    return _swap(example, (NUMBER, NAME), pool, rng, "swapped")


def _negated(example: Example, contexts: list[str], rng: random.Random) -> Example | None:
    match = AUXILIARY.search(example.question)
    if match is None or " not " in example.question or rng.random() >= 0.5:
        return None
    question = example.question[: match.end()] + " not" + example.question[match.end() :]
    return _unanswerable(example, question, "negated")


def _opposite(example: Example, contexts: list[str], rng: random.Random) -> Example | None:
    """A word of the question turned into its opposite, where the paragraph never says the opposite."""
    said = {w.lower() for w in WORD.findall(example.context)}
    words = [m for m in WORD.finditer(example.question)
             if m.group().lower() in OPPOSITE and OPPOSITE[m.group().lower()] not in said]
    if not words:
        return None
    target = rng.choice(words)
    opposite = OPPOSITE[target.group().lower()]
    opposite = opposite.capitalize() if target.group()[0].isupper() else opposite
    question = example.question[: target.start()] + opposite + example.question[target.end() :]
    return _unanswerable(example, question, "opposite")


def _swapped_within(example: Example, contexts: list[str], rng: random.Random) -> Example | None:
    """A name or number of the question replaced by another of its kind from the paragraph, taken from outside
    the sentence that holds the answer, so the paragraph says something of it, but not this."""
    sentence = _sentence_around(example.context, example.answer_start)

    def pool(pattern: re.Pattern) -> set[str]:
        # a capitalised word that opens a sentence is no name ("Called", "It")
        return {m.group() for m in pattern.finditer(example.context)
                if not _opens_sentence(example.context, m.start()) and m.group() not in example.question
                and m.group() not in sentence and m.group() not in example.answer and example.answer not in m.group()}

    return _swap(example, (NAME, NUMBER), pool, rng, "swapped-within", first_word=False)


def _swap(example: Example, patterns: tuple[re.Pattern, ...], pool: Callable[[re.Pattern], set[str]],
          rng: random.Random, kind: str, first_word: bool = True) -> Example | None:
    """One name or number of the question that the paragraph holds replaced by one of `pool(pattern)`, for the
    first of `patterns` that has both; `first_word`: whether the question's first word may be the one replaced."""
    for pattern in patterns:
        own = [m for m in pattern.finditer(example.question) if m.group() not in QUESTION_WORDS
               and m.group() in example.context and (first_word or m.start() > 0)]
        if not own:
            continue
        replacements = sorted(pool(pattern) - QUESTION_WORDS)
        if not replacements:
            continue
        target = rng.choice(own)
        return _unanswerable(example, example.question[: target.start()] + rng.choice(replacements)
                             + example.question[target.end() :], kind)
    return None


def _unanswerable(example: Example, question: str, kind: str) -> Example:
    return replace(example, question=question, answer="", answer_start=-1, kind=kind)


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip()
    return not before or before[-1] in ".!?\n\"'"


def _sentence_around(context: str, at: int) -> str:
    start = max(context.rfind(". ", 0, at), context.rfind("\n", 0, at)) + 1
    ends = [i for i in (context.find(". ", at), context.find("\n", at)) if i >= 0]
    return context[start : min(ends) if ends else len(context)]


_MAKERS = {"other-paragraph": _other_paragraph, "swapped": _swapped, "negated": _negated,
           "opposite": _opposite, "swapped-within": _swapped_within}


def split_articles(titles: Iterable[str], validation_share: float) -> tuple[frozenset[str], frozenset[str]]:
    """(fit, validation) article titles, by a hash of each title: the split never moves with the data's order."""
    fit, validation = set(), set()
    for title in sorted(set(titles)):
        bucket = int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16) % 1000
        (validation if bucket < validation_share * 1000 else fit).add(title)
    return frozenset(fit), frozenset(validation)


def describe(found: list[Example]) -> dict[str, Any]:
    """Counts a model card states about its data."""
    kinds: dict[str, int] = {}
    for example in found:
        kinds[example.kind] = kinds.get(example.kind, 0) + 1
    return {"examples": len(found), "articles": len({e.article for e in found}), "kinds": dict(sorted(kinds.items()))}
