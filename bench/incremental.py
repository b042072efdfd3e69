"""Cost of keeping the index current: one added document against a full rebuild, on a large corpus.

Builds a corpus of at least --chunks passages from the bundled documents' paragraphs
(shuffled per document, so passages differ), indexes it from scratch, then times a
run with no change and the addition, change and removal of one document.

    .venv/bin/python bench/incremental.py [--chunks 20000] [--quick]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.build import update_index  # noqa: E402
from index.embedder import Embedder  # noqa: E402
from index.readers import read_document  # noqa: E402
from index.settings import Settings  # noqa: E402

NEW_DOC = "2022-08-24-ep-press-release-droi-visit-kazakhstan.txt"


PASSAGES_PER_DOCUMENT = 32  # measured: a shuffled copy of the four documents makes 34 passages


def make_corpus(folder: Path, chunks: int) -> int:
    """Write documents of ~34 passages each, at least `chunks` passages in all; returns the document count."""
    paragraphs = [p for path in sorted((ROOT / "corpus").iterdir()) if path.name != NEW_DOC
                  for p in read_document(path, path.name).text.split("\n\n") if len(p.split()) > 8]
    rng = random.Random(7)
    documents = max(1, -(-chunks // PASSAGES_PER_DOCUMENT))
    for n in range(documents):
        body = rng.sample(paragraphs, len(paragraphs))
        (folder / f"doc-{n:05d}.txt").write_text(f"---\ntitle: Generated document {n}\n---\n" + "\n\n".join(body))
    return documents


def timed(settings: Settings, embedder: Embedder, label: str) -> tuple[float, int]:
    start = time.perf_counter()
    report = update_index(settings, lambda: embedder)
    seconds = time.perf_counter() - start
    print(f"  {label:34s} {seconds:9.2f} s   {report.chunks_embedded:6d} passages embedded, "
          f"{report.chunks} in the index", flush=True)
    return seconds, report.chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 passages: a few minutes")
    args = parser.parse_args()
    target = 2_000 if args.quick else args.chunks
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus"
        corpus.mkdir()
        documents = make_corpus(corpus, target)
        settings = Settings(corpus_dir=corpus, index_dir=Path(scratch) / "index")
        print(f"corpus: {documents} generated documents (about {target} passages)", flush=True)
        full, chunks = timed(settings, embedder, "full build")
        if chunks < target:
            raise SystemExit(f"only {chunks} passages were made, fewer than the {target} asked for")
        noop, _ = timed(settings, embedder, "no change")
        shutil.copy(ROOT / "corpus" / NEW_DOC, corpus / NEW_DOC)
        add, _ = timed(settings, embedder, "add one document")
        with open(corpus / NEW_DOC, "a", encoding="utf-8") as handle:
            handle.write("\nA sentence added to change the document.\n")
        change, _ = timed(settings, embedder, "change one document")
        (corpus / NEW_DOC).unlink()
        remove, _ = timed(settings, embedder, "remove one document")
    print(f"add one document / full build = 1/{full / add:.0f} (goal: under 1/100); "
          f"no change / full build = 1/{full / noop:.0f}; {chunks} passages")


if __name__ == "__main__":
    main()
