"""`citebot index` on the bundled corpus with hostile files beside it, against the bundled corpus alone.

The hostile files (issue 13): a .docx that unpacks to 400 MB of XML, a 10 MB text file that is one
paragraph, a Markdown file with a 40,000-character line of "[", a 6 KB PDF that takes pypdf seconds to
extract per 200,000 drawing operators (here 2 million) and a 60 KB PDF that extracts to 60 MB; once more
without the 10 MB file, which is the only one that is real work. Each build starts from an empty index
folder, in a fresh process; printed: wall time, what was indexed and skipped, and peak resident memory of
the `citebot index` process and of the largest process it started (the ONNX export loads torch once).

    .venv/bin/python bench/hostile_corpus.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tests.samples import pdf_with_content  # noqa: E402

CITEBOT = str(Path(sys.executable).with_name("citebot"))
# Runs a command and prints its own peak RSS and that of its largest descendant (Linux counts grandchildren
# that their parent waited for), in KB.
MEASURE = """import json, os, resource, subprocess, sys, tempfile
with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    child = subprocess.Popen(sys.argv[1:], stdout=out, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0), err.seek(0)
    print(json.dumps({"rc": child.returncode, "own_kb": usage.ru_maxrss, "stdout": out.read().decode(),
                      "largest_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                      "stderr": err.read().decode()}))
"""

def docx_bomb(path: Path, xml_mb: int = 400) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.'
                                                'org/package/2006/content-types"/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<?xml version="1.0"?><w:document><w:body>')
            block = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * 30_000
            for _ in range(xml_mb * 2**20 // len(block)):
                member.write(block)
            member.write(b"</w:body></w:document>")


def one_paragraph(path: Path, corpus: Path, megabytes: int = 10) -> None:
    """Sentences of the corpus's own words in random order, without a single line break."""
    words = re.findall(r"[A-Za-z]{3,}", " ".join(p.read_text(encoding="utf-8") for p in corpus.glob("*.txt")))
    rng = random.Random(13)
    sentences, size = [], 0
    while size < megabytes * 10**6:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(12, 30))).capitalize() + "."
        sentences.append(sentence)
        size += len(sentence) + 1
    path.write_text(" ".join(sentences), encoding="utf-8")


def hostile_files(folder: Path, corpus: Path) -> dict[str, str]:
    """Write the hostile files; their names and what each is."""
    docx_bomb(folder / "bomb.docx")
    one_paragraph(folder / "one-paragraph.txt", corpus)
    (folder / "brackets.md").write_text("[" * 40_000 + "\n\nSee [the report](http://example.org) on torture.\n")
    (folder / "slow.pdf").write_bytes(pdf_with_content(b"BT /F1 12 Tf 72 700 Td " + b"(a) Tj 0 -1 Td " * 2_000_000
                                                       + b"ET", compress=True))
    (folder / "big-text.pdf").write_bytes(pdf_with_content(b"BT /F1 12 Tf 72 700 Td (" + b"a" * (60 << 20)
                                                           + b") Tj ET", compress=True))
    return {p.name: f"{p.stat().st_size / 2**20:.2f} MB" for p in sorted(folder.iterdir())
            if p.name not in {c.name for c in corpus.iterdir()}}


def index_once(corpus: Path, index_dir: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, CITEBOT, "index", "--corpus", str(corpus), "--index-dir",
                           str(index_dir), "--json"], capture_output=True, text=True, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    measured = json.loads(done.stdout)
    if measured["rc"] != 0:
        raise SystemExit(f"citebot index failed: {measured['stderr'][-2000:]}")
    report = json.loads(measured["stdout"])
    return {"seconds": round(seconds, 1), "citebot_index_mb": round(measured["own_kb"] / 1024),
            "largest_process_mb": round(measured["largest_kb"] / 1024),
            "documents": report["documents"], "passages": report["chunks"],
            "skipped": {f["doc_id"]: f["error"] for f in report["failed"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bundled, hostile, bombs = (Path(scratch) / name for name in ("bundled", "hostile", "bombs"))
        shutil.copytree(ROOT / "corpus", bundled)
        shutil.copytree(ROOT / "corpus", hostile)
        files = hostile_files(hostile, bundled)
        shutil.copytree(hostile, bombs)
        (bombs / "one-paragraph.txt").unlink()  # the one hostile file that is also 10 MB of real work
        results = {"files": files, "bundled alone": index_once(bundled, Path(scratch) / "index-a"),
                   "bundled + hostile": index_once(hostile, Path(scratch) / "index-b"),
                   "... but the 10 MB text": index_once(bombs, Path(scratch) / "index-c")}
    print("hostile files: " + ", ".join(f"{name} ({size})" for name, size in files.items()))
    print(f"{'corpus':<24} {'seconds':>8} {'peak MB, citebot index':>23} {'largest process':>16} {'documents':>10} "
          f"{'passages':>9}")
    for name in ("bundled alone", "bundled + hostile", "... but the 10 MB text"):
        r = results[name]
        print(f"{name:<24} {r['seconds']:>8} {r['citebot_index_mb']:>23} {r['largest_process_mb']:>16} "
              f"{r['documents']:>10} {r['passages']:>9}")
    for doc_id, error in results["bundled + hostile"]["skipped"].items():
        print(f"  skipped {doc_id}: {error}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
