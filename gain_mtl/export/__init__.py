"""From a trained checkpoint to a model bundle: the pruned inference graph, ONNX, OpenVINO, INT8."""
