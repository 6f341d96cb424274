from __future__ import annotations

import onnx

from calibration.heads import head_nodes, onnx_head_nodes


def test_walk_stops_at_first_weighted_layer_on_each_path():
    # out_a <- sigmoid <- div <- conv_a <- relu <- conv_body ; out_b <- softmax <- gemm <- relu
    parents = {
        "sigmoid": ["div"], "div": ["conv_a"], "conv_a": ["relu"], "relu": ["conv_body"],
        "softmax": ["gemm"], "gemm": ["relu"], "conv_body": [],
    }
    types = {"sigmoid": "Sigmoid", "div": "Div", "conv_a": "Conv", "relu": "Relu",
             "conv_body": "Conv", "softmax": "Softmax", "gemm": "Gemm"}
    found = head_nodes(["sigmoid", "softmax"], parents.__getitem__, types.__getitem__)
    assert set(found) == {"sigmoid", "div", "conv_a", "softmax", "gemm"}


def test_onnx_heads_of_small_net(small_onnx):
    names = set(onnx_head_nodes(onnx.load(str(small_onnx))))
    assert {"/cls/Gemm", "/Softmax", "/attn/Conv", "/Div_1", "/Sigmoid", "/loc/Conv", "/Resize"} <= names
    assert not any(n.startswith("/body/") for n in names)
