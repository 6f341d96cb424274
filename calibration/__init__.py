"""Export-time INT8 calibration: held-out calibration batches, OpenVINO (NNCF), ONNX Q/DQ, TensorRT.

Sits between training and the edge: may import ``edge`` (the bundle schema), never ``gain_mtl``
internals beyond what export hands it as numpy batches and file paths.
"""
