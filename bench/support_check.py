"""The support check (index/answer/support.py) on labelled sentence/passage pairs of our own making, split by document.

Pairs come from the indexed passages of the bundled corpus and of the SQuAD articles (`make squad`). For a
sentence of a passage, supported variants: the sentence itself, a rule-made paraphrase (leading formula
dropped, date written the other way, small numbers as words, "According to the document,"), and one of its
clauses. Unsupported variants: a name swapped for one from another document, a number or year changed, a
negation added, a claim added, and a sentence of another document. Each pair cites the passage the
sentence came from. Documents of eval/splits.json's report part are held out; the alignment threshold is
chosen on the others (the highest recall with precision at least 0.95), then reported on the held-out part
beside two baselines from the same run: no check (what the LLM path did before: every cited sentence
shown) and a similarity threshold alone (RAGFlow's 0.63 between answer and chunk).

    .venv/bin/python bench/support_check.py [--per-split 400] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from index.ingest.chunking import embedding_text  # noqa: E402
from index.evaluate.datasets import load_splits  # noqa: E402
from index.embed.encoders import open_encoder  # noqa: E402
from index.pipeline import Pipeline  # noqa: E402
from index.settings import Settings  # noqa: E402
from index.answer.support import check  # noqa: E402

FORMULA = re.compile(r"^(whereas|having regard to|notes that|stresses that|calls on|recalls that)\s+", re.IGNORECASE)
DATE = re.compile(r"\b(\d{1,2}) (January|February|March|April|May|June|July|August|September|October|November|"
                  r"December) (\d{4})\b")
SMALL = {str(i): w for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
AUXILIARY = re.compile(r"\b(is|was|are|were|has|have|had|will|can|could|should|does|did)\b")
NAME = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{3,}\b")  # capitalised inside a sentence, not after a stop
NUMBER = re.compile(r"(?<=\s)\d+\b(?!\.\s)")  # not an item label ("4. Welcomes")


def supported_variants(sentence: str, rng: random.Random) -> list[str]:
    paraphrase = FORMULA.sub("", sentence)
    paraphrase = re.sub(r"(?<=\s)([0-9]|10)\b(?![,./-]\s?\d)(?!\s+[A-Z][a-z]+\s+\d{4})", lambda m: SMALL[m.group(1)],
                        paraphrase, count=1)  # not in a date
    paraphrase = DATE.sub(lambda m: f"{m.group(2)} {m.group(1)}, {m.group(3)}", paraphrase)
    paraphrase = "According to the document, " + paraphrase[:1].lower() + paraphrase[1:]
    clauses = [c.strip() for c in re.split(r"[;,]\s+", sentence) if len(c.split()) >= 6]
    return [("verbatim", sentence), ("paraphrase", paraphrase)] + \
        ([("clause", max(clauses, key=len))] if len(clauses) > 1 else [])


def unsupported_variants(sentence: str, foreign_names: list[str], foreign_sentence: str,
                         rng: random.Random) -> list[str]:
    variants = []
    names = [m for m in NAME.finditer(sentence)]
    if names and foreign_names:
        m = rng.choice(names)
        variants.append(("name swapped", sentence[: m.start()] + rng.choice(foreign_names) + sentence[m.end() :]))
    numbers = [m for m in NUMBER.finditer(sentence)]
    if numbers:
        m = rng.choice(numbers)
        variants.append(("number changed",
                         sentence[: m.start()] + str(int(m.group()) + rng.choice([1, 2, 3])) + sentence[m.end() :]))
    auxiliary = AUXILIARY.search(sentence)
    variants.append(("negated", sentence[: auxiliary.end()] + " not" + sentence[auxiliary.end() :] if auxiliary
                     else "It is not true that " + sentence[:1].lower() + sentence[1:]))
    if foreign_names:
        variants.append(("claim added",
                         sentence.rstrip(".;,") + f", and this was decided by {rng.choice(foreign_names)} in secret."))
    variants.append(("other document", foreign_sentence))
    return variants


def pairs(pipeline: Pipeline, rng: random.Random, limit: int, held_out: set[str]) -> dict[str, list[tuple]]:
    """(sentence, hit-like chunk, doc title, label) by split: 'development' and 'report'."""
    store = pipeline.store
    chunks = [store.chunks.get(i) for d in store.docs.values() for i in d["chunk_ids"]]
    names_by_doc: dict[str, set[str]] = {}
    units = []
    for chunk in chunks:
        for a, b in chunk.sentences:
            text = chunk.text[a:b]
            names_by_doc.setdefault(chunk.doc_id, set()).update(m.group() for m in NAME.finditer(text))
            if len(text.split()) >= 8:
                units.append((chunk, text))
    rng.shuffle(units)
    out: dict[str, list[tuple]] = {"development": [], "report": []}
    for chunk, text in units:
        split = "report" if chunk.doc_id in held_out else "development"
        if len(out[split]) >= limit * 8:
            continue
        others = [u for u in units[:200] if u[0].doc_id != chunk.doc_id]
        if not others:
            continue
        foreign = sorted(set().union(*(n for d, n in names_by_doc.items() if d != chunk.doc_id))
                         - set(NAME.findall(chunk.text)))
        out[split] += [(s, chunk, 1, kind) for kind, s in supported_variants(text, rng)]
        out[split] += [(s, chunk, 0, kind) for kind, s in unsupported_variants(text, foreign, rng.choice(others)[1], rng)]
    return out


def verdicts(pipeline: Pipeline, labelled: list[tuple]) -> list[tuple[int, Any, float, str]]:
    """(label, Support at threshold 0, seconds) per pair: the alignment is kept to choose the threshold."""
    store, encoder = pipeline.store, pipeline.embedder
    out = []
    for sentence, chunk, label, kind in labelled:
        started = time.perf_counter()
        vector = encoder.encode_query(sentence)
        cosines = store.unit_cosines(vector, chunk)
        title = store.doc_info(chunk.doc_id).title
        support = check(sentence, [embedding_text(title, chunk.text)], [chunk.text[a:b] for a, b in chunk.sentences],
                        cosines, store.lexical.idf, min_alignment=-1.0)
        out.append((label, support, time.perf_counter() - started, kind))
    return out


def scores(judged: list[tuple[int, bool]]) -> dict[str, float]:
    shown = [label for label, ok in judged if ok]
    positives = sum(label for label, _ in judged)
    return {"precision": round(sum(shown) / len(shown), 3) if shown else 1.0,
            "recall": round(sum(shown) / positives, 3) if positives else 0.0, "pairs": len(judged)}


def choose_threshold(development: list[tuple[int, Any, float, str]]) -> float:
    """The lowest alignment threshold (most recall) whose precision on development pairs is at least 0.95."""
    for threshold in [round(0.30 + 0.01 * i, 2) for i in range(61)]:
        judged = [(label, s.supported and s.alignment >= threshold) for label, s, _, _ in development]
        if scores(judged)["precision"] >= 0.95:
            return threshold
    return 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-split", type=int, default=400, help="source sentences per split, at most")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(14)
    held_out = set(load_splits())
    corpora = [Settings()]
    squad = ROOT / ".citebot/squad"
    if (squad / "index").is_dir():
        corpora.append(Settings(corpus_dir=squad / "corpus", index_dir=squad / "index"))
    results: dict[str, list] = {"development": [], "report": []}
    for settings in corpora:
        pipeline = Pipeline.open(settings, open_encoder(settings))
        for split, labelled in pairs(pipeline, rng, args.per_split // len(corpora), held_out).items():
            results[split] += verdicts(pipeline, labelled)
    threshold = choose_threshold(results["development"])
    report = results["report"]
    table = {
        "no check (every cited sentence shown)": scores([(label, True) for label, _, _, _ in report]),
        "similarity >= 0.63 alone": scores([(label, s.alignment >= 0.63) for label, s, _, _ in report]),
        f"support check (alignment >= {threshold})": scores([(label, s.supported and s.alignment >= threshold)
                                                               for label, s, _, _ in report]),
    }
    seconds = sorted(t for _, _, t, _ in report)
    print(f"threshold chosen on {len(results['development'])} development pairs: {threshold}")
    print(f"held-out pairs: {len(report)} ({sum(label for label, _, _, _ in report)} supported)")
    print(f"{'':44} {'precision':>9} {'recall':>7}")
    for name, s in table.items():
        print(f"{name:44} {s['precision']:>9} {s['recall']:>7}")
    print(f"check per sentence: p50 {1000 * seconds[len(seconds) // 2]:.1f} ms, "
          f"p95 {1000 * seconds[int(len(seconds) * 0.95)]:.1f} ms (encoding the sentence included)")
    by_kind: dict[str, list[bool]] = {}
    for label, s, _, kind in report:
        by_kind.setdefault(kind, []).append(s.supported and s.alignment >= threshold)
    print("shown, by kind of pair: " + ", ".join(f"{kind} {sum(v)}/{len(v)}" for kind, v in by_kind.items()))
    if args.json:
        args.json.write_text(json.dumps({"threshold": threshold, "report": table}, indent=1))


if __name__ == "__main__":
    main()
