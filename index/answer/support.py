"""Does the passage a generated sentence cites say what the sentence says? Facts first, then meaning.

An LLM's sentence is shown only if (1) every fact in it is in the cited passages (numbers, dates, names,
quoted phrases and the sentence's rare content words, compared after normalisation: case, inflection,
"15"/"fifteen", "13 March 2018"/"March 13, 2018"), (2) it does not negate what the passage says or
the reverse, and (3) it is close in meaning to one of the passages' sentences (cosine of the sentence's
embedding with the stored sentence vectors). The threshold of (3) is chosen by bench/support_check.py on
labelled pairs from the development documents; its precision and recall are reported on the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.store.lexical import terms

MIN_ALIGNMENT = 0.30  # bench/support_check.py on development documents; the facts and negation decide the rest
RARE_IDF = 2.5
NUMBER_UNITS = 2  # the passage sentences closest to a generated one, where its numbers and dates must be  # a content word rarer than this (in the corpus's passages) is a fact to check
NEGATIONS = frozenset("not no never none neither nor cannot n't".split())  # "without" also names things
# Words a faithful sentence adds about its source, not about the world: "According to the document, ..."
ATTRIBUTION = frozenset(terms("according document documents passage passages text report reports states stated "
                              "says said notes noted mentions mentioned source sources"))
MONTHS = {m: i for i, m in enumerate("january february march april may june july august september october "
                                     "november december".split(), 1)}
MONTHS |= {m[:3]: i for m, i in list(MONTHS.items())} | {"sept": 9}
NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                           "thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
                                           "twenty".split())}
NUMBER_WORDS |= {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
                 "hundred": 100, "thousand": 1000, "million": 10**6}
TOKEN = re.compile(r"\d[\d,.]*\d|\d|[^\W\d_]+(?:'t)?", re.UNICODE)
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?" \
         r"|nov(?:ember)?|dec(?:ember)?)\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
# A date is one fact: "13 March 2019" is not supported by a passage holding "13 March 2018" and "B8-0205/2019".
DATES = [(re.compile(rf"\b{_DAY}\s+{_MONTH}\s*,?\s+(\d{{4}})\b", re.IGNORECASE), (1, 2, 3)),
         (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(\d{{4}})\b", re.IGNORECASE), (2, 1, 3)),
         (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), (3, 2, 1)),
         (re.compile(rf"\b{_MONTH}\s+(\d{{4}})\b", re.IGNORECASE), (None, 1, 2))]
QUOTED = re.compile(r"[\"“]([^\"“”]{3,80})[\"”]")


@dataclass(frozen=True)
class Support:
    """The verdict on one sentence: shown or not, and why."""

    supported: bool
    alignment: float  # best cosine with a sentence of the cited passages
    missing: tuple[str, ...] = ()  # facts of the sentence the passages lack
    negation: bool = False  # the sentence negates where its closest passage sentence does not, or the reverse


def facts(sentence: str, idf: Callable[[str], float]) -> set[str]:
    """The checkable facts of a sentence, normalised: numbers, months, names, quoted phrases, rare words."""
    found, sentence = _dates(sentence)
    for at, token in enumerate(TOKEN.findall(sentence)):
        quantity = _quantity(token)
        if quantity is not None:
            found.add(quantity)
        elif token[0].isupper() and at > 0 and token.lower() not in NEGATIONS:
            found.update(terms(token))
    found.update(t for t in terms(sentence) if idf(t) >= RARE_IDF)
    found.update(f"quote:{_plain(q)}" for q in QUOTED.findall(sentence))
    return found - ATTRIBUTION


def passage_facts(passage: str) -> set[str]:
    """Everything a sentence's facts may be found among: the passage's words, numbers, months, phrases."""
    dates = _dates(passage)[0]
    present = set(terms(passage)) | dates
    present |= {f"date:{d.split('-', 1)[1]}" for d in dates if d.count("-") == 2}  # "March 2018" in "13 March 2018"
    return present | {q for q in map(_quantity, TOKEN.findall(passage)) if q is not None}


def _quantity(token: str) -> str | None:
    """A number ("15", "fifteen", "1,000") or a month ("March"; "may" the verb is none), normalised."""
    lower = token.lower()
    if token[0].isdigit():
        return _number(token)
    if lower in NUMBER_WORDS:
        return str(NUMBER_WORDS[lower])
    if lower in MONTHS and token[0].isupper():
        return f"month:{MONTHS[lower]}"
    return None


def check(sentence: str, passages: Sequence[str], unit_texts: Sequence[str], unit_cosines: Sequence[float],
          idf: Callable[[str], float], min_alignment: float = MIN_ALIGNMENT) -> Support:
    """The verdict on `sentence` against the passages it cites; `unit_cosines[i]`: its cosine with
    `unit_texts[i]`, the sentences of those passages."""
    present = set().union(*(passage_facts(p) for p in passages))
    ranked = sorted(range(len(unit_cosines)), key=unit_cosines.__getitem__, reverse=True)
    # Numbers and dates must be in the sentences it is closest to: "protests in 2019" is not supported by a
    # passage that dates the protests 2016 and mentions 2019 elsewhere.
    near = set().union(*(passage_facts(unit_texts[i]) for i in ranked[:NUMBER_UNITS]))
    plain_passages = " ".join(_plain(p) for p in passages)
    missing = tuple(sorted(f for f in facts(sentence, idf) if not _found(f, present, near, plain_passages)))
    best = ranked[0] if ranked else None
    alignment = float(unit_cosines[best]) if best is not None else 0.0
    negation = best is not None and _negates(sentence) != _negates(unit_texts[best])
    return Support(not missing and not negation and alignment >= min_alignment, round(alignment, 4), missing,
                   negation)


def _found(fact: str, present: set[str], near: set[str], plain_passages: str) -> bool:
    if fact.startswith("quote:"):
        return fact[6:] in plain_passages
    if fact.startswith("date:") or fact[:1].isdigit():
        return fact in near
    return fact in present


def _dates(text: str) -> tuple[set[str], str]:
    """The dates in `text` as "date:day-month-year" or "date:month-year", and the text without them."""
    found: set[str] = set()
    for pattern, (day, month, year) in DATES:
        def take(match: re.Match[str]) -> str:
            month_number = int(match.group(month)) if match.group(month).isdigit() \
                else MONTHS[match.group(month).lower().rstrip(".")[:3]]
            parts = ([str(int(match.group(day)))] if day else []) + [str(month_number), match.group(year)]
            found.add("date:" + "-".join(parts))
            return " "
        text = pattern.sub(take, text)
    return found, text


def _negates(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return any(w in NEGATIONS or w.endswith("n't") for w in words)


def _number(token: str) -> str:
    """"1,000" and "1000", "03" and "3" alike."""
    digits = token.replace(",", "")
    return str(int(digits)) if digits.isdigit() else digits


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
