"""OCR on pages made from the bundled documents' own text: character error rate, and the eval on scans alone.

Each bundled document's text (as citebot reads it) is typed onto letter-size pages and "scanned": several
fonts, a slight tilt, 200 and 300 dpi. Printed:
  1. the character error rate of Tesseract's text against what was typed, per scan kind and in all (spaces and
     line breaks normalised: a wrapped line is not an error), with seconds per page;
  2. the bundled eval's report part (eval/qa.jsonl and eval/splits.json, default settings) on a corpus of those
     documents given only as scanned PDFs, beside the same eval on the text files, in the same run.

    .venv/bin/python bench/ocr_quality.py [--json out.json]        (make bench-ocr; about 5 minutes)
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from index.ingest.formats.base import ReadContext, ReadLimits  # noqa: E402
from index.ingest.formats.ocr import PageReader, engine  # noqa: E402
from index.ingest.readers import read_document  # noqa: E402
from samples import FONTS, page_image, scanned_pdf_bytes  # noqa: E402

CITEBOT = str(Path(sys.executable).with_name("citebot"))
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
# (font, dpi, tilt in degrees): what a scanner or a phone gives
KINDS = {"serif 300 dpi": (FONTS[0], 300, 0.0), "sans 300 dpi, 0.7° tilt": (FONTS[1], 300, 0.7),
         "serif 200 dpi, 0.7° tilt": (FONTS[0], 200, -0.7), "mono 200 dpi": (MONO, 200, 0.0)}
EVAL_KIND = "sans 300 dpi, 0.7° tilt"
LINE_CHARS, PAGE_LINES = 80, 34  # 34 lines of 12 pt at 1.6 spacing fit a letter page below a 1-inch margin


def pages_of(text: str) -> list[list[str]]:
    lines = [line for paragraph in text.split("\n\n") for line in textwrap.wrap(paragraph, LINE_CHARS) + [""]]
    return [lines[at : at + PAGE_LINES] for at in range(0, len(lines), PAGE_LINES)]


def character_error_rate(found: str, typed: str) -> tuple[int, int]:
    from rapidfuzz.distance import Levenshtein

    found, typed = " ".join(found.split()), " ".join(typed.split())
    return Levenshtein.distance(found, typed), len(typed)


def error_rates(documents: dict[str, str]) -> dict[str, dict[str, float]]:
    reader = PageReader(ReadContext(ReadLimits()))
    rates = {}
    for kind, (font, dpi, tilt) in KINDS.items():
        errors = chars = pages = 0
        started = time.perf_counter()
        for text in documents.values():
            for lines in pages_of(text):
                image = page_image(lines, dpi=dpi, font=font, angle=tilt)
                wrong, total = character_error_rate(reader.read(image, "page", dpi), "\n".join(lines))
                errors, chars, pages = errors + wrong, chars + total, pages + 1
        rates[kind] = {"cer": errors / chars, "pages": pages, "seconds_per_page": (time.perf_counter() - started) / pages,
                       "errors": errors, "chars": chars}
        print(f"  {kind:26} CER {errors / chars:.4f} over {pages} pages, "
              f"{rates[kind]['seconds_per_page']:.2f} s a page", flush=True)
    return rates


def eval_on(corpus: Path, index_dir: Path, questions: Path, splits: Path) -> dict[str, float]:
    """The eval's report part (eval/splits.json: never fitted or tuned on), default settings."""
    subprocess.run([CITEBOT, "index", "--corpus", str(corpus), "--index-dir", str(index_dir)], check=True,
                   capture_output=True)
    found = subprocess.run([CITEBOT, "eval", str(questions), "--corpus", str(corpus), "--index-dir", str(index_dir),
                            "--json", "--part", "report", "--splits", str(splits)], check=True, capture_output=True, text=True)
    return json.loads(found.stdout)["metrics"]


def scanned_corpus(documents: dict[str, tuple[str, dict[str, str]]], folder: Path, with_meta: bool) -> dict[str, str]:
    """Each document as a PDF of page pictures, no text layer, with its title and date in the PDF's metadata if
    asked (as the text file's front matter gives them); old name -> new name."""
    from pypdf import PdfReader, PdfWriter

    font, dpi, tilt = KINDS[EVAL_KIND]
    folder.mkdir(parents=True)
    renamed = {}
    for name, (text, meta) in documents.items():
        images = [page_image(lines, dpi=dpi, font=font, angle=tilt) for lines in pages_of(text)]
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(scanned_pdf_bytes(images))))
        if with_meta:
            writer.add_metadata({"/Title": meta["title"], "/CreationDate": "D:" + meta["date"].replace("-", "")})
        renamed[name] = Path(name).stem + ".pdf"
        with (folder / renamed[name]).open("wb") as out:
            writer.write(out)
    return renamed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if engine() is None:
        sys.exit("OCR needs Tesseract: make ocr")
    corpus = ROOT / "corpus"
    read = {p.name: read_document(p, p.name) for p in sorted(corpus.iterdir()) if not p.name.startswith(".")}
    documents = {name: doc.text for name, doc in read.items()}
    typed = {name: (doc.text, {"title": doc.title, "date": doc.date or ""}) for name, doc in read.items()}
    print(f"Tesseract {engine()}; {len(documents)} bundled documents, {sum(map(len, documents.values())):,} characters")
    print("1. Character error rate on pages typed from the documents' text")
    rates = error_rates(documents)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        renamed = scanned_corpus(typed, work / "scans", with_meta=True)
        scanned_corpus(typed, work / "bare-scans", with_meta=False)
        questions = work / "qa.jsonl"
        with questions.open("w") as out:
            for line in (ROOT / "eval" / "qa.jsonl").read_text().splitlines():
                item = json.loads(line)
                item["gold_docs"] = [renamed.get(doc, doc) for doc in item.get("gold_docs", [])]
                out.write(json.dumps(item) + "\n")
        splits = json.loads((ROOT / "eval" / "splits.json").read_text())
        splits["report"] = [renamed.get(doc, doc) for doc in splits["report"]]  # the scans keep their documents' part
        scan_splits = work / "splits.json"
        scan_splits.write_text(json.dumps(splits))
        print(f"2. The bundled eval's report part on the documents as {EVAL_KIND} scans only, beside the text files "
              "(default settings)")
        started = time.perf_counter()
        scans = eval_on(work / "scans", work / "scans-index", questions, scan_splits)
        scan_seconds = time.perf_counter() - started
        bare = eval_on(work / "bare-scans", work / "bare-index", questions, scan_splits)
        text = eval_on(corpus, work / "text-index", ROOT / "eval" / "qa.jsonl", ROOT / "eval" / "splits.json")
    keys = ("hit_at_k", "answer_contains", "answered_rate", "handled_right", "abstention_accuracy", "span_f1",
            "citation_precision")
    print(f"  {'metric':22} {'text files':>10} {'scans':>10} {'scans, no title or date':>24}")
    for key in keys:
        print(f"  {key:22} {text[key]:10.3f} {scans[key]:10.3f} {bare[key]:24.3f}")
    print(f"  (scans: OCR, index and eval in {scan_seconds:.0f} s; a scan's title and date come from the PDF's "
          "metadata, as the text file's from its front matter; without them, the file name is the title)")
    if args.json:
        args.json.write_text(json.dumps({"cer": rates, "eval_text": text, "eval_scans": scans,
                                         "eval_scans_without_meta": bare, "eval_kind": EVAL_KIND}, indent=2))


if __name__ == "__main__":
    main()
