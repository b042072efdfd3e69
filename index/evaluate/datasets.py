"""Labelled question sets for fitting and judging answer selection, split by document, never by question.

A SQuAD-format file becomes a corpus (one document per article, paragraphs joined by blank
lines) and eval items whose expected answers are the crowdworkers' spans. `eval/splits.json`
names the documents of the report part; every other document is development data, where
the scorer is fitted and its threshold chosen by cross-validation over documents. An item
belongs to the part of its first gold document; an item with none (an unanswerable question
of eval/qa.jsonl) to a part chosen by a hash of its id, so the split never moves by chance.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from index.evaluate.run import EvalItem

REPORT, DEVELOPMENT = "report", "development"
DEFAULT_SPLITS = Path(__file__).resolve().parents[2] / "eval" / "splits.json"


class DatasetError(Exception):
    """A labelled set or split file that cannot be used; the message says which and why."""


def squad_to_corpus(source: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write out_dir/corpus/<article>.txt and out_dir/qa.jsonl from a SQuAD 2.0 file; returns both paths."""
    try:
        articles = _squad_articles(json.loads(source.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise DatasetError(f"{source} is not a SQuAD-format file ({type(error).__name__}: {error})") from None
    corpus = out_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    items = []
    for doc_id, title, text, article_items in articles:
        front = f"---\ntitle: {title}\nsource: SQuAD 2.0 (CC BY-SA 4.0)\n---\n"
        _write_if_changed(corpus / doc_id, front + text + "\n")  # same bytes: the index is not re-embedded
        items += article_items
    qa_path = out_dir / "qa.jsonl"
    _write_if_changed(qa_path, "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    return corpus, qa_path


def _squad_articles(data: dict[str, Any]) -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """(doc id, title, text, items) per article; raises on anything not shaped like SQuAD."""
    articles = []
    for article in data["data"]:
        doc_id = _file_name(article["title"]) + ".txt"
        text = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        items = []
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = sorted({a["text"].strip() for a in qa.get("answers", []) if a["text"].strip()})
                items.append({"id": str(qa["id"]), "question": qa["question"].strip(), "must_contain": answers,
                              "answer": answers[0] if answers else None, "gold_docs": [doc_id],
                              "unanswerable": bool(qa.get("is_impossible"))})
        articles.append((doc_id, article["title"].replace("_", " "), text, items))
    return articles


def _file_name(title: str) -> str:
    return re.sub(r"[^\w.-]+", "_", title).strip("_") or "article"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def load_splits(path: Path = DEFAULT_SPLITS) -> frozenset[str]:
    """The documents of the report part (ids or file names)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))[REPORT]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"cannot read the split file {path} ({error})") from None
    return frozenset(report)


def document_of(item: EvalItem) -> str:
    """The document an item belongs to, for splitting and for cross-validation folds."""
    if item.gold_docs:
        return item.gold_docs[0].rsplit("/", 1)[-1]
    return f"no-document:{item.id}"


def part_of(item: EvalItem, report_docs: frozenset[str]) -> str:
    doc = document_of(item)
    if item.gold_docs:
        return REPORT if doc in report_docs else DEVELOPMENT
    # A third of the items without a document go to the report part, fixed by their id.
    return REPORT if int(hashlib.sha256(item.id.encode()).hexdigest(), 16) % 3 == 0 else DEVELOPMENT


def select_part(items: list[EvalItem], part: str, report_docs: frozenset[str]) -> list[EvalItem]:
    if part == "all":
        return items
    return [item for item in items if part_of(item, report_docs) == part]


def describe(items: list[EvalItem]) -> dict[str, Any]:
    """Counts that a report or a model card states about the data it used."""
    return {"items": len(items), "unanswerable": sum(i.unanswerable for i in items),
            "documents": sorted({document_of(i) for i in items if i.gold_docs})}


def main(argv: list[str] | None = None) -> int:
    """`python -m index.evaluate.datasets SQUAD.json OUT_DIR`: write the corpus and items (what `make squad` runs)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m index.evaluate.datasets SQUAD.json OUT_DIR", file=sys.stderr)
        return 2
    try:
        corpus, items = squad_to_corpus(Path(args[0]), Path(args[1]))
    except DatasetError as error:
        print(f"citebot: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {corpus} and {items}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
