"""Writing ONNX graphs with onnx.helper only: deterministic node and initializer names, so the same
weights always give byte-identical models."""

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 17


class Graph:
    """A small helper around onnx.helper that names nodes and initializers deterministically."""

    def __init__(self, prefix=""):
        self.nodes, self.initializers, self.prefix, self.count = [], [], prefix, 0

    def name(self, hint):
        self.count += 1
        return f"{self.prefix}{hint}_{self.count}"

    def const(self, value, hint="c", dtype=np.float32):
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, hint=None, outputs=1, **attrs):
        names = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=names[0], **attrs))
        return names[0] if outputs == 1 else names

    def output_as(self, value, name):
        self.nodes.append(helper.make_node("Identity", [value], [name], name=f"{self.prefix}{name}"))
        return name


def make_model(g, name, inputs, outputs, doc, metadata=None):
    """`metadata`: string keys and values for the model's `metadata_props` (part of the contract
    for callers that read them)."""
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="gst-exemplar models/build.py",
        producer_version="1",
        doc_string=doc,
    )
    if metadata:
        helper.set_model_props(model, metadata)
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model
