"""How far this CPU moves the shipped readers' margins when their weights are int8 instead of uint8.

The readers ship their int8 weights stored as uint8 (index/reader/unsigned.py), which every
CPU multiplies exactly. This puts each back as int8 (the same numbers) in a scratch folder and
reads SQuAD's development questions, against their own paragraph, with both: on a CPU whose
int8 kernel saturates (AVX2 without VNNI) the margins and spans differ, on others they match.
Also prints one full-scale product both ways, and the time a read takes each way, measured
in the same run. The report articles are not read.

    .venv/bin/python bench/reader_exactness.py [--questions 300] [--squad2 FILE]   (make bench-reader-exactness)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.evaluate.datasets import DEFAULT_SPLITS, load_splits  # noqa: E402
from index.reader.examples import examples, read_squad  # noqa: E402
from index.reader.model import MODEL, Reader  # noqa: E402
from index.reader.unsigned import SHIFT, SUFFIX  # noqa: E402
from index.settings import Settings  # noqa: E402

SQUAD2 = ROOT.parent / "shared" / "datasets" / "squad2-train8" / "squad2-8-articles.json"


def signed_copy(folder: Path, scratch: Path) -> Path:
    """The reader in `folder` with its uint8 weights put back as int8 (w - 128, zero point - 128)."""
    import onnx
    from onnx import numpy_helper

    copy = scratch / folder.name
    shutil.copytree(folder, copy)
    model = onnx.load(str(copy / MODEL))
    for tensor in model.graph.initializer:
        if tensor.name.endswith(SUFFIX) and tensor.data_type == onnx.TensorProto.UINT8:
            signed = numpy_helper.to_array(tensor).astype(np.int16) - SHIFT
            tensor.CopyFrom(numpy_helper.from_array(signed.astype(np.int8), tensor.name))
    onnx.save(model, str(copy / MODEL))
    return copy


def full_scale_product() -> tuple[int, int, int]:
    """255 x 127 summed over 64 terms, by an int8 and a uint8 MatMulInteger, and exactly."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    from index.reader.unsigned import unsigned_weights

    activations = np.full((1, 64), 255, np.uint8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "w", "a_zero", "w_zero"], ["y"])], "product",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 1])],
        [numpy_helper.from_array(np.full((64, 1), 127, np.int8), "w"),
         numpy_helper.from_array(np.array(0, np.int8), "w_zero"),
         numpy_helper.from_array(np.array(0, np.uint8), "a_zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])

    def run(proto: onnx.ModelProto) -> int:
        session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return int(session.run(None, {"a": activations})[0][0, 0])

    signed = run(model)
    unsigned_weights(model)
    return signed, run(model), 255 * 127 * 64


def compare(shipped: Reader, signed: Reader, found: list) -> dict[str, float]:
    differences, spans, seconds = [], 0, {"uint8": [], "int8": []}
    for example in found:
        reads = {}
        for name, reader in (("uint8", shipped), ("int8", signed)):
            started = time.perf_counter()
            reads[name] = reader.read(example.question, [example.context])[0]
            seconds[name].append(time.perf_counter() - started)
        exact, other = reads["uint8"], reads["int8"]
        differences.append(abs(exact.margin - other.margin))
        spans += (exact.start, exact.end) != (other.start, other.end)
    return {"mean": float(np.mean(differences)), "p90": float(np.quantile(differences, 0.9)),
            "max": float(np.max(differences)), "spans": spans,
            "ms_uint8": 1000 * statistics.median(seconds["uint8"]),
            "ms_int8": 1000 * statistics.median(seconds["int8"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--squad2", type=Path, default=SQUAD2)
    args = parser.parse_args(argv)
    report = load_splits(DEFAULT_SPLITS)
    articles = [a for a in read_squad(args.squad2) if f"{a['title']}.txt" not in report]
    found = examples(articles)[: args.questions]
    signed, unsigned, exact = full_scale_product()
    print(f"one full-scale product: int8 weights {signed:,}, uint8 weights {unsigned:,}, exact {exact:,}")
    print(f"{len(found)} development questions, each against its own paragraph, on this CPU:")
    print("| reader | margin moved: mean / p90 / max | spans changed | read p50 ms: uint8 / int8 (ratio) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings()
        for name, folder in (("span reader", settings.reader_model), ("answer reader", settings.answer_reader_model)):
            shipped, other = Reader.load(folder, threads=2), Reader.load(signed_copy(folder, Path(scratch)), threads=2)
            figures = compare(shipped, other, found)
            print(f"| {name} | {figures['mean']:.3f} / {figures['p90']:.3f} / {figures['max']:.3f} | "
                  f"{figures['spans']} | {figures['ms_uint8']:.1f} / {figures['ms_int8']:.1f} "
                  f"({figures['ms_uint8'] / figures['ms_int8']:.2f}x) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
