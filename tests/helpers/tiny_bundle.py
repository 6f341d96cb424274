"""The synthetic line (tiny bundle, camera, slow runner) lives in edge/bench/synthetic.py, where the soak benchmark can use it too."""

from edge.bench.synthetic import (BACKGROUND, PATCH, SIZE, THRESHOLD, SlowRunner, SyntheticCamera, build_onnx,  # noqa: F401
                                  build_tiny_bundle, defective_at, synth_frame, write_video)
