"""Cost of keeping the index current: one added document against a full rebuild, on a large corpus.

Default: builds a corpus of at least --chunks passages from the bundled documents'
paragraphs (shuffled per document, so passages differ), indexes it from scratch, then
times a run with no change and the addition, change and removal of one document.

With --synthetic N: the corpus is N passages of bench/synthetic.py (real sentences,
their real embeddings), written with an index that `citebot index` finds up to date;
embedding them all would take an hour at 100,000, so the full rebuild is estimated as
N / the passages per second of a real from-scratch build measured in the same run,
plus the measured time of writing an index of N passages.

    .venv/bin/python bench/incremental.py [--chunks 20000 | --synthetic 100000] [--quick] [--json out]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.ingest.build import update_index  # noqa: E402
from index.embed.encoders import Encoder, open_encoder  # noqa: E402
from index.ingest.readers import read_document  # noqa: E402
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


CONVERSIONS: dict[str, str] = {}  # step -> how the vector index changed kind in it


def timed(settings: Settings, embedder: Encoder, label: str) -> tuple[float, int]:
    start = time.perf_counter()
    report = update_index(settings, lambda: embedder)
    seconds = time.perf_counter() - start
    print(f"  {label:34s} {seconds:9.2f} s   {report.chunks_embedded:6d} passages embedded, "
          f"{report.chunks} in the index" + (f"; vector index {report.converted}" if report.converted else ""),
          flush=True)
    if report.converted:
        CONVERSIONS[label] = report.converted
    return seconds, report.chunks


def changes(settings: Settings, embedder, corpus: Path) -> dict[str, float]:
    """No change, then one document added, changed and removed, each timed."""
    times = {"no change": timed(settings, embedder, "no change")[0]}
    shutil.copy(ROOT / "corpus" / NEW_DOC, corpus / NEW_DOC)
    times["add one document"] = timed(settings, embedder, "add one document")[0]
    with open(corpus / NEW_DOC, "a", encoding="utf-8") as handle:
        handle.write("\nA sentence added to change the document.\n")
    times["change one document"] = timed(settings, embedder, "change one document")[0]
    (corpus / NEW_DOC).unlink()
    times["remove one document"] = timed(settings, embedder, "remove one document")[0]
    return times


def real_corpus(scratch: Path, target: int) -> dict:
    corpus = scratch / "corpus"
    corpus.mkdir()
    documents = make_corpus(corpus, target)
    settings = Settings(corpus_dir=corpus, index_dir=scratch / "index")
    embedder = open_encoder(settings, export_if_missing=True)
    print(f"corpus: {documents} generated documents (about {target} passages)", flush=True)
    full, chunks = timed(settings, embedder, "full build")
    if chunks < target:
        raise SystemExit(f"only {chunks} passages were made, fewer than the {target} asked for")
    return {"passages": chunks, "full build": full, "full build estimated": False,
            **changes(settings, embedder, corpus)}


def synthetic_corpus(scratch: Path, target: int) -> dict:
    from bench.synthetic import pool_sentences, pool_vectors, synthetic_index, write_synthetic_index
    from bench.throughput import make_corpus as real_sentences_corpus

    sample = scratch / "sample"
    sample.mkdir()
    real_sentences_corpus(sample, 300)
    sample_settings = Settings(corpus_dir=sample, index_dir=scratch / "sample-index")
    embedder = open_encoder(sample_settings, export_if_missing=True)
    seconds, sample_chunks = timed(sample_settings, embedder, "sample build from scratch")
    rate = sample_chunks / seconds
    sentences = pool_sentences(20_000)
    data = synthetic_index(target, sentences, pool_vectors(embedder, sentences))
    corpus = scratch / "corpus"
    settings = Settings(corpus_dir=corpus, index_dir=scratch / "index")
    start = time.perf_counter()
    write_synthetic_index(settings.index_dir, settings, data, corpus_dir=corpus)
    write_seconds = time.perf_counter() - start
    print(f"corpus: {len(data.docs)} synthetic documents, {target} passages; "
          f"written in {write_seconds:.1f} s; real build rate {rate:.1f} passages/s", flush=True)
    return {"passages": target, "full build": target / rate + write_seconds, "full build estimated": True,
            "rate": rate, "write": write_seconds, **changes(settings, embedder, corpus)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--synthetic", type=int, help="passages of a synthetic corpus (real sentences)")
    parser.add_argument("--quick", action="store_true", help="2,000 passages (10,000 synthetic): a few minutes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.synthetic:
            result = synthetic_corpus(Path(scratch), 10_000 if args.quick else args.synthetic)
        else:
            result = real_corpus(Path(scratch), 2_000 if args.quick else args.chunks)
    full, add = result["full build"], result["add one document"]
    print(f"add one document / full build{' (estimated)' if result['full build estimated'] else ''} = "
          f"1/{full / add:.0f} (goal: under 1/100); no change / full build = 1/{full / result['no change']:.0f}; "
          f"{result['passages']} passages")
    if args.json:
        args.json.write_text(json.dumps({**result, "conversions": CONVERSIONS}, indent=1))


if __name__ == "__main__":
    main()
