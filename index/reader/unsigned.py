"""Store an int8 ONNX model's weights as uint8, so that every CPU multiplies them exactly.

Dynamic quantisation multiplies uint8 activations by int8 weights. Where a CPU has AVX2 but not
VNNI, onnxruntime does that with an instruction (vpmaddubsw) that adds two products into 16
bits and saturates, so the reader's margins there move off those of a CPU with VNNI (by 0.016
on average and up to 0.3 on 300 development questions), and the answer model, fitted on the
exact ones, decides some questions differently. The same weights as uint8 with zero point 128
(w + 128 - 128) are the same numbers, multiplied by uint8-by-uint8 kernels that are exact on
every CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SHIFT = 128  # int8 w is stored as uint8 w + 128 with its zero point raised by the same
SUFFIX = "_uint8"  # what the rewritten tensors' names end with


def unsigned_weights(model: Any) -> int:
    """Rewrite, in place, the int8 weights of every MatMulInteger of an onnx ModelProto as uint8; how many."""
    import onnx
    from onnx import numpy_helper

    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    made: dict[str, Any] = {}
    for node in model.graph.node:
        if node.op_type != "MatMulInteger" or len(node.input) != 4:
            continue
        weight, zero_point = node.input[1], node.input[3]
        tensor = initializers.get(weight)
        if tensor is None or tensor.data_type != onnx.TensorProto.INT8 or zero_point not in initializers:
            continue
        for name in (weight, zero_point):
            if name not in made:
                shifted = numpy_helper.to_array(initializers[name]).astype(np.int16) + SHIFT
                made[name] = numpy_helper.from_array(shifted.astype(np.uint8), name + SUFFIX)
        node.input[1], node.input[3] = made[weight].name, made[zero_point].name
    used = {name for node in model.graph.node for name in node.input}
    kept = [tensor for tensor in model.graph.initializer if tensor.name in used] + list(made.values())
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return sum(1 for name in made if initializers[name].dims)  # the weights, not their scalar zero points


def rewrite_unsigned(path: Path) -> int:
    """unsigned_weights on the model file at `path`, saved back; how many weights were rewritten."""
    import onnx

    model = onnx.load(str(path))
    count = unsigned_weights(model)
    if count:
        onnx.save(model, str(path))
    return count
