"""Which nodes form the output heads, so that INT8 keeps them in float.

Quantizing the last projection of each head and the activations after it (softmax, the attention
temperature and sigmoid, the localization upsample and sigmoid) costs almost no speed but moves the
probabilities the decision threshold compares against (the failure seen in detectors whose heads
collapse under INT8). The walk starts at every graph output and goes upstream through parameter-free
ops until it reaches the first weighted layer on each path, which it includes. It is written once
over callables so that the ONNX and the OpenVINO graph share it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

# Layers with weights: the walk stops after including one of these.
WEIGHTED_OPS = frozenset(
    {"Conv", "ConvTranspose", "Gemm", "MatMul", "Convolution", "GroupConvolution", "ConvolutionBackpropData"}
)
# How far upstream a parameter-free chain may go before the walk gives up on that path.
MAX_DEPTH = 24

Node = TypeVar("Node", bound=Hashable)


def head_nodes(
    outputs: Iterable[Node],
    parents: Callable[[Node], Iterable[Node]],
    op_type: Callable[[Node], str],
    max_depth: int = MAX_DEPTH,
) -> list[Node]:
    """Nodes from each output back to (and including) the first weighted layer on each path."""
    found: dict[Node, None] = {}
    frontier = [(node, 0) for node in outputs]
    while frontier:
        node, depth = frontier.pop()
        if node in found or depth > max_depth:
            continue
        found[node] = None
        if op_type(node) in WEIGHTED_OPS:
            continue
        frontier.extend((parent, depth + 1) for parent in parents(node))
    return list(found)


def onnx_head_nodes(model: "onnx.ModelProto") -> list[str]:  # noqa: F821 - onnx imported lazily
    """Names of the ONNX nodes that make up the output heads (for ``nodes_to_exclude``)."""
    nodes = [n for n in model.graph.node if n.op_type != "Constant"]
    names = [n.name or n.output[0] for n in nodes]
    producer = {out: i for i, n in enumerate(nodes) for out in n.output}
    starts = [producer[o.name] for o in model.graph.output if o.name in producer]

    def parents(i: int) -> list[int]:
        return [producer[x] for x in nodes[i].input if x in producer]

    return [names[i] for i in head_nodes(starts, parents, lambda i: nodes[i].op_type)]

def openvino_head_nodes(model: "openvino.Model") -> list[str]:  # noqa: F821 - openvino imported lazily
    """Friendly names of the OpenVINO ops that make up the output heads (for NNCF's ignored scope)."""
    skip = {"Constant", "Parameter", "Result"}
    ops = {op.get_friendly_name(): op for op in model.get_ops()}
    starts = [r.input_value(0).get_node().get_friendly_name() for r in model.get_results()]

    def parents(name: str) -> list[str]:
        nodes = (value.get_node() for value in ops[name].input_values())
        return [n.get_friendly_name() for n in nodes if n.get_type_name() not in skip]

    return head_nodes(starts, parents, lambda name: ops[name].get_type_name())
