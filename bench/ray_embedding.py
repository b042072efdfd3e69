"""Embedding throughput through Ray Data (`citebot index --ray`) against the local path, at equal cores.

Both embed the same passages (sentences of the bundled corpus and SQuAD-like text, packed into passages of
about 120 words) with the same ONNX encoder and batch size: locally, one process with every core; on a
local Ray cluster with as many CPUs, one single-threaded actor per CPU. Printed: passages per second of
each, Ray's overhead over the local path, the cluster's start-up time (once per `citebot index`), and
whether the vectors are identical.

    .venv/bin/python bench/ray_embedding.py [--passages 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bench.synthetic import pool_sentences  # noqa: E402
from index.embed.encoders import open_encoder  # noqa: E402
from index.settings import Settings  # noqa: E402


def passages(count: int) -> list[str]:
    sentences = pool_sentences(count * 6)
    return [" ".join(sentences[i : i + 6]) for i in range(0, 6 * count, 6)][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts = passages(args.passages)
    spans = [[(0, len(t))] for t in texts]
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(index_dir=Path(scratch))
        local = open_encoder(settings, export_if_missing=True)
        local.encode_with_units(texts[:16], spans[:16])  # warm-up
        started = time.perf_counter()
        local_vectors = local.encode_with_units(texts, spans)
        local_seconds = time.perf_counter() - started

        from index.embed.ray_embed import RayEncoder

        started = time.perf_counter()
        on_ray = RayEncoder(local, settings, "local")
        on_ray.encode_with_units(texts[:16], spans[:16])  # start the actors and load their models
        start_up = time.perf_counter() - started
        started = time.perf_counter()
        ray_vectors = on_ray.encode_with_units(texts, spans)
        ray_seconds = time.perf_counter() - started
    result = {"passages": len(texts), "cores": os.cpu_count(), "local_per_s": round(len(texts) / local_seconds, 1),
              "ray_per_s": round(len(texts) / ray_seconds, 1),
              "ray_overhead": round(ray_seconds / local_seconds - 1, 3), "ray_start_up_s": round(start_up, 1),
              "identical": bool(all(np.array_equal(a, b) for a, b in zip(local_vectors, ray_vectors)))}
    print(f"{len(texts)} passages on {result['cores']} cores: local {result['local_per_s']}/s, Ray Data "
          f"{result['ray_per_s']}/s (overhead {result['ray_overhead']:+.1%}); cluster start and first batch "
          f"{result['ray_start_up_s']} s; vectors identical: {result['identical']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
