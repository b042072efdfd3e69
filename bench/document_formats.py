"""`citebot index` time and peak memory per document format, beside the same text as a plain file, same run.

One bundled document (the 2019 motion, 12,500 characters) is written in every format that holds prose; a
table of 2,000 rows in every format that holds tables, beside the same rows as text; and the motion typed
onto scanned pages (300 dpi, a PDF without a text layer), whose cost is OCR's. Each corpus is indexed from an
empty folder in a fresh `citebot index` process, whose fixed costs (loading the model, exporting it to ONNX: some
9 s) every row shares. Printed: seconds, their ratio to the same text as a plain file, the seconds a page adds
over that plain file where there are pages, passages, and the peak resident memory of `citebot index` and of the largest process it started (the reader
worker, or the ONNX export).

    .venv/bin/python bench/document_formats.py [--json out.json]      (make bench-formats; about 4 minutes)
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.hostile_corpus import index_once  # noqa: E402
from index.ingest.readers import read_document  # noqa: E402
from samples import (docx_bytes, epub_bytes, odt_bytes, page_image, pdf_bytes, pptx_bytes, rtf_bytes,  # noqa: E402
                     scanned_pdf_bytes, xlsx_bytes)

MOTION = "2019-03-ep-motion-for-resolution-b8-0205-2019.txt"
ROWS = 2000
PAGE_LINES = 34  # as bench/ocr_quality.py: what fits a letter page at 12 pt


def text_pdf(paragraphs: list[str]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    lines = [line for p in paragraphs for line in textwrap.wrap(p, 90) + [""]]
    writer = PdfWriter()
    for at in range(0, len(lines), PAGE_LINES):
        page = [line.encode("latin-1", "replace").decode("latin-1").replace("\\", "/").replace("(", "[")
                .replace(")", "]") for line in lines[at : at + PAGE_LINES]]
        writer.append(PdfReader(io.BytesIO(pdf_bytes(page))))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def prose_files(paragraphs: list[str]) -> dict[str, bytes]:
    html = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article></body></html>"
    slides = [(p.split(",")[0][:60], p, "") for p in paragraphs]
    lines = [line for p in paragraphs for line in textwrap.wrap(p, 80) + [""]]
    scans = [page_image(lines[at : at + PAGE_LINES]) for at in range(0, len(lines), PAGE_LINES)]
    return {"motion.txt": "\n\n".join(paragraphs).encode(), "motion.html": html.encode(),
            "motion.pdf": text_pdf(paragraphs), "motion.docx": docx_bytes(paragraphs),
            "motion.odt": odt_bytes(paragraphs), "motion.rtf": rtf_bytes([p.encode("ascii", "replace").decode()
                                                                        for p in paragraphs]),
            "motion.epub": epub_bytes([("Motion", "".join(f"<p>{p}</p>" for p in paragraphs))]),
            "motion.pptx": pptx_bytes(slides), "scanned-motion.pdf": scanned_pdf_bytes(scans)}


def table_files() -> dict[str, bytes]:
    rng = random.Random(7)
    offices = ["Aktobe", "Almaty", "Astana", "Atyrau", "Karaganda", "Kostanay", "Pavlodar", "Semey", "Shymkent"]
    rows = [["Case", "Office", "Year", "Cases registered", "Outcome"]] + [
        [f"K-{n:05d}", rng.choice(offices), rng.randint(2014, 2023), rng.randint(1, 300),
         rng.choice(["closed", "open", "appealed"])] for n in range(ROWS)]
    as_text = "\n\n".join("; ".join(f"{h}: {v}" for h, v in zip(rows[0], row)) + "." for row in rows[1:])
    csv = "\n".join(",".join(str(v) for v in row) for row in rows).encode()
    return {"cases-as-text.txt": as_text.encode(), "cases.csv": csv, "cases.xlsx": xlsx_bytes({"Cases": rows})}


def pages(path: Path) -> int | None:
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return len(PdfReader(path).pages)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    paragraphs = read_document(ROOT / "corpus" / MOTION, MOTION).text.split("\n\n")
    files = {**prose_files(paragraphs), **table_files()}
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, data in files.items():
            corpus = Path(scratch) / name.replace(".", "-")
            corpus.mkdir()
            (corpus / name).write_bytes(data)
            result = index_once(corpus, Path(scratch) / f"index-{name}")
            result["pages"], result["kb"] = pages(corpus / name), round(len(data) / 1024)
            results[name] = result
            print(f"  {name}: {result['seconds']} s", file=sys.stderr, flush=True)
    baseline = {"prose": results["motion.txt"]["seconds"], "table": results["cases-as-text.txt"]["seconds"]}
    print(f"{'file':<22} {'KB':>6} {'seconds':>8} {'× text':>7} {'+s/page':>8} {'passages':>9} {'peak MB':>8} "
          f"{'largest':>8}")
    for name, r in results.items():
        base = baseline["table" if name.startswith("cases") else "prose"]
        per_page = f"{(r['seconds'] - base) / r['pages']:.2f}" if r["pages"] else "-"
        print(f"{name:<22} {r['kb']:>6} {r['seconds']:>8} {r['seconds'] / base:>7.2f} {per_page:>8} "
              f"{r['passages']:>9} {r['citebot_index_mb']:>8} {r['largest_process_mb']:>8}")
        if r["skipped"]:
            print(f"  skipped: {r['skipped']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
