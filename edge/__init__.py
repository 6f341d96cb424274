"""The edge runtime: bundle schema, inference backends, camera sources, the decision pipeline.

Runs on an inspection camera: never imports torch or gain_mtl, and imports heavy optional
libraries (openvino, tensorrt, onnxruntime, paho-mqtt) only where they are used.
Python 3.10 syntax at most (JetPack 6).
"""
