"""Run every benchmark and write BENCHMARKS.md: throughput, latency and memory by size, cold start, rebuilds.

Each script runs in its own process and hands back JSON; the figures go into one
Markdown file with the machine they were measured on and the command that made them,
and as they are into BENCHMARKS.json beside it.

    .venv/bin/python bench/run.py [--quick] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOALS_P95_MS = {100_000: 50, 1_000_000: 150}
QUICK = {"throughput": ["--passages", "300"], "scale": ["--sizes", "1000,10000", "--rounds", "1"],
         "incremental": ["--synthetic", "10000"], "cold_start": ["--runs", "1"],
         "postgres_store": ["--sizes", "10000", "--rounds", "1"]}
FULL = {"throughput": ["--passages", "2000"], "scale": ["--sizes", "1000,10000,100000,1000000"],
        "incremental": ["--synthetic", "100000"], "cold_start": ["--runs", "3"],
        "postgres_store": ["--sizes", "100000,300000"]}


def run_all(arguments: dict[str, list[str]], scratch: Path) -> dict[str, dict]:
    results = {}
    for name, extra in arguments.items():
        out = scratch / f"{name}.json"
        print(f"== bench/{name}.py {' '.join(extra)}", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *extra, "--json", str(out)], check=True)
        results[name] = json.loads(out.read_text())
    return results


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    libraries = ", ".join(f"{name} {version(name)}" for name in
                          ("torch", "onnxruntime", "sentence-transformers", "faiss-cpu", "bm25s"))
    return (f"{cpu}, {os.cpu_count()} cores, {memory / 2**20:.0f} GiB; Linux {platform.release()}; "
            f"Python {platform.python_version()}; {libraries}")


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, one line a row."""
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + ["| " + " | ".join(r) + " |" for r in rows]


def throughput_section(t: dict) -> list[str]:
    by_batch = ", ".join(f"{b}: {r:.1f}" for b, r in t["raw_rate"].items())
    onnx = ", ".join(f"{b}: {r:.1f}" for b, r in t["onnx_raw_rate"].items())
    base, bare_onnx = t["raw_rate"][str(t["best_batch"])], max(t["onnx_raw_rate"].values())
    rows = [["`citebot index` (ONNX Runtime, as shipped)", f"{t['pipeline_rate']:.1f}", f"**{t['ratio']:.2f}**"],
            ["`citebot index` with `CITEBOT_ONNX=false` (torch)", f"{t['torch_pipeline_rate']:.1f}",
             f"{t['torch_pipeline_rate'] / base:.2f}"],
            *([["`citebot index` choosing its runtime on a sample (past `CITEBOT_RUNTIME_CHECK_PASSAGES`)",
                f"{t['checked_pipeline_rate']:.1f}", f"{t['checked_pipeline_rate'] / base:.2f}"]]
              if "checked_pipeline_rate" in t else []),
            [f"baseline: `SentenceTransformer.encode`, best batch ({t['best_batch']})", f"{base:.1f}", "1.00"],
            ["bare ONNX session, best batch", f"{bare_onnx:.1f}", f"{bare_onnx / base:.2f}"]]
    return [
        "## 1. Indexing throughput",
        f"`citebot index` from scratch on {t['passages']} passages of {t['words_per_passage']:.0f} words "
        "(real sentences), model loaded; against the bare encoders on exactly the texts it embedded.",
        "",
        *table(["", "passages/s", "ratio"], rows),
        "",
        f"- `SentenceTransformer.encode` by batch size: {by_batch}; on one thread instead of {t['threads']}: "
        f"{t['one_thread_rate']:.1f}/s. Bare ONNX by batch size: {onnx}.",
        f"- `citebot index` against the bare ONNX session it runs: {t['onnx_ratio']:.2f} (the rest is reading, "
        "chunking, pooling sentence vectors, BM25 and writing).",
        f"- ONNX vectors against torch's: least cosine {t['onnx_min_cosine']:.6f}. The export took "
        f"{t['export_s']:.1f} s, once.",
        *_faster_runtime(t),
        "",
    ]


def _faster_runtime(t: dict) -> list[str]:
    """Which runtime embeds faster depends on the CPU: say so when torch wins, and what to do about it."""
    lines = [f"- Choosing its runtime: {t['checked_runtime']} (torch was imported already; a fresh `citebot index` "
             "pays about 5 s more for it)."] if t.get("checked_runtime") else []
    if t["torch_pipeline_rate"] > t["pipeline_rate"]:
        lines.append(f"- On this CPU torch embeds faster than ONNX Runtime ({t['torch_pipeline_rate']:.1f} against "
                     f"{t['pipeline_rate']:.1f} passages/s). A rebuild past `CITEBOT_RUNTIME_CHECK_PASSAGES` passages "
                     "finds that out and embeds with torch; the bot answers with the ONNX export either way.")
    return lines


def latency_section(scale: dict) -> list[str]:
    rows = [[f"{r['size']:,}", _kind(r["vector_index"]), f"{r['ask']['p50']:.1f} ms", f"{r['ask']['p95']:.1f} ms",
             f"{r['first_pass']['p95']:.1f} ms", f"{r['faiss']['p50']:.2f} / {r['faiss']['p95']:.2f} ms",
             f"{r['ask']['p50'] / r['faiss']['p50']:.0f}x", f"{r['bm25']['p95']:.2f} ms", f"{r['encode']['p50']:.1f} ms",
             f"< {GOALS_P95_MS[r['size']]} ms" if r["size"] in GOALS_P95_MS else ""] for r in scale["sizes"]]
    return [
        "## 2. Query latency by index size",
        "Warm `ask` (question in, cited answer out: encode, FAISS, BM25, fusion, answer scoring) over the "
        f"{scale['sizes'][0]['questions']} questions of eval/qa.jsonl, in a fresh process per size, against FAISS "
        "search alone on the same index. Sizes are synthetic passages of real sentences with their real embeddings "
        "(bench/synthetic.py). "
        "\"First pass\" is each question's first time, with the memory-mapped files as the build left them.",
        "",
        *table(["passages", "vector index", "ask p50", "ask p95", "first pass p95", "FAISS alone p50 / p95",
                "ask / FAISS (p50)", "BM25 p95", "encode p50", "goal p95"], rows),
        "",
    ]


def index_type_section(scale: dict, threshold: int) -> list[str]:
    real = scale["real_embeddings"]
    exact_at = {r["size"]: r["exact_faiss"]["p50"] for r in scale["sizes"]}
    rest = [r["ask"]["p50"] - r["faiss"]["p50"] for r in scale["sizes"]]
    reason = (f"Exact search costs {exact_at[threshold]:.1f} ms at {threshold:,} passages (p50), as much as all the "
              f"rest of answering ({min(rest):.1f}-{max(rest):.1f} ms at every size), and grows with the corpus; "
              "above that the IVF index answers in under a millisecond. "
              if threshold in exact_at else "")
    rows = []
    for r in scale["sizes"]:
        info = r["vector_index"]
        rows.append([f"{r['size']:,}", f"{r['exact_faiss']['p50']:.2f} ms", _kind(info),
                     f"{info['nlist']} / {info['nprobe']}" if info["nlist"] else "-",
                     f"{info['recall_at_10']:.3f}" if info.get("recall_at_10") is not None else "1 (exact)",
                     f"{r['question_recall_at_10']:.3f}"])
    return [
        "## 3. Index type by size",
        f"Exact search up to `exact_search_max` = {threshold:,} passages, an IVF index above "
        "(`CITEBOT_VECTOR_INDEX=exact|approximate` forces either). " + reason + "The IVF index's nprobe is the "
        "smallest whose recall@10 against exact search reaches `approximate_recall` (0.95), checked at build time "
        "on midpoints of two random corpus sentences, a harder query set than the eval questions in every set-up "
        "tried.",
        "",
        *table(["passages", "exact FAISS p50", "index served", "lists / nprobe", "recall@10, build check",
                "recall@10, eval questions"], rows),
        "",
        f"On real embeddings only ({real['count']:,} sentences of the corpus, Python's reference and docstrings, "
        f"IVF forced): {real['nlist']} lists, nprobe {real['nprobe']}, recall@10 {real['recall_at_10']:.3f} on the "
        f"build's check and **{real['question_recall_at_10']:.3f} on the eval questions**.",
        "",
    ]


def memory_section(scale: dict) -> list[str]:
    rows = [[f"{r['size']:,}", f"{r['load_s']:.2f} s", f"{r['rss_open_mb']:.0f} MB", f"{r['rss_served_mb']:.0f} MB",
             f"{sum(d.values()):.0f} MB", f"{d['vectors.faiss']:.0f} MB", f"{d['units.npy']:.0f} MB",
             f"{d['chunks.jsonl'] + d['chunks.idx.npy']:.0f} MB", f"{d['bm25']:.0f} MB"]
            for r, d in ((r, r["disk_mb"]) for r in scale["sizes"])]
    return [
        "## 4. Memory and disk",
        "Resident memory of the serving process (model and index loaded; then after the questions above, "
        "with the pages they touched) and the index version folder on disk.",
        "",
        *table(["passages", "open in", "RSS open", "RSS after questions", "disk", "vectors.faiss", "units.npy",
                "chunks", "BM25"], rows),
        "",
    ]


def cold_section(c: dict) -> list[str]:
    base = c["import sentence_transformers"]
    rows = [[name, f"{value:.2f}", f"{value / base:.2f}"] for name, value in c.items()]
    return ["## 5. Cold start", "Median of fresh processes on the bundled corpus; baselines first.", "",
            *table(["", "seconds", "vs `import sentence_transformers`"], rows), ""]


def incremental_section(i: dict) -> list[str]:
    full = i["full build"]
    estimate = (f" (estimated: {i['passages']:,} / {i['rate']:.1f} passages/s of a real build in this run, "
                f"plus {i['write']:.1f} s measured for writing the index)") if i["full build estimated"] else ""
    rows = [[name, f"{i[name]:.2f}", f"1/{full / i[name]:.0f}"]
            for name in ("no change", "add one document", "change one document", "remove one document")]
    return ["## 6. Keeping the index current", f"An index of {i['passages']:,} passages; one document "
            f"(the EP press release) added, changed and removed. Full rebuild: {full:.0f} s{estimate}.", "",
            *table(["run", "seconds", "vs full rebuild"], rows), "",
            *[f"- The {step} run converted the vector index, {change}; the conversion is in its time."
              for step, change in i.get("conversions", {}).items()], ""]


def _kind(info: dict) -> str:
    return "exact" if info["kind"] == "exact" else f"IVF{info['nlist']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument("--out", type=Path, help="default: BENCHMARKS.md; .citebot/bench/BENCHMARKS-quick.md with --quick")
    parser.add_argument("--from-json", type=Path, help="write the Markdown from a previous run's figures")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from index.settings import Settings

    args.out = args.out or (ROOT / ".citebot/bench/BENCHMARKS-quick.md" if args.quick else ROOT / "BENCHMARKS.md")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        with tempfile.TemporaryDirectory() as scratch:
            results = run_all(QUICK if args.quick else FULL, Path(scratch))
        results["minutes"] = (time.perf_counter() - started) / 60
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    command = "make bench-quick" if args.quick else "make bench"
    lines = ["# Benchmarks", "",
             f"Made by `{command}` (`bench/run.py{' --quick' if args.quick else ''}`) on "
             f"{time.strftime('%Y-%m-%d')}" + (f" in {results['minutes']:.0f} min." if "minutes" in results else "."), "",
             f"Machine: {machine()}.", ""]
    lines += throughput_section(results["throughput"])
    lines += latency_section(results["scale"])
    lines += index_type_section(results["scale"], Settings().exact_search_max)
    lines += memory_section(results["scale"])
    lines += cold_section(results["cold_start"])
    lines += incremental_section(results["incremental"])
    lines += postgres_section(results["postgres_store"])
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


def postgres_section(figures: dict) -> list[str]:
    """Section 7: the PostgreSQL store beside the index folder, and HNSW's recall, by size."""
    sizes, rows = figures["sizes"], []
    for r in sizes:
        for store, label in (("files", "index folder"), ("postgres", "PostgreSQL + pgvector")):
            f = r[store]
            rows.append([f"{r['size']:,}", label, f"{r['write_s'][store]:.0f} s", f"{f['ask']['p50']:.1f} ms",
                         f"{f['ask']['p95']:.1f} ms", *(f"{f['qps'][str(c)]:.0f}/s" for c in (1, 2, 4))])
    recall = [[f"{r['size']:,}", *(f"{h['recall_at_10']:.3f} ({h['p50']:.1f} ms)" for h in r["hnsw"])] for r in sizes]
    return [
        "## 7. PostgreSQL as the index store",
        "The same synthetic passages written as a version folder and, by the transaction `citebot index` runs, "
        "into a private PostgreSQL 16 with pgvector (pgserver) on this machine; then warm `ask` over the eval "
        "questions in a fresh process per store, one question at a time and with 1, 2 and 4 clients at once "
        "(questions per second). PostgreSQL's written time includes its BM25 postings, term counts and the HNSW "
        "index (m 16, ef_construction 200). The folder searches exactly up to 100,000 passages and with its IVF "
        "index above (section 3), hence its faster 300,000.",
        "",
        *table(["passages", "store", "written in", "ask p50", "ask p95", "1 client", "2 clients", "4 clients"], rows),
        "",
        "HNSW recall@10 against exact search over the same vectors, for the eval questions, by `hnsw_ef_search` "
        "(search alone, p50):",
        "",
        *table(["passages", *(f"ef_search {h['ef_search']}" for h in sizes[0]["hnsw"])], recall),
        "",
        "On real embeddings only (the synthetic passages' pool: about 18,000 sentences of the corpus, Python's "
        "reference and docstrings, one a passage): " + ", ".join(
            f"ef_search {h['ef_search']} **{h['recall_at_10']:.3f}**" for h in figures["real_embeddings"]) + ". "
        "Synthetic passages repeat each pool sentence in many passages (about 75 each at 300,000), in tight "
        "clusters ordered by the noise added to them, which an approximate index cannot tell apart.",
        "",
    ]


if __name__ == "__main__":
    main()
