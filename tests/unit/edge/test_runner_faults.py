"""Runners under failure: every submitted feed calls back, with its error when it has one."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, List

import numpy as np
import pytest

from edge.backends import open_runner
from edge.backends.base import BackendError
from edge.preprocess import resize_frame
from tests.helpers.tiny_bundle import SIZE, synth_frame
from tests.unit.edge.fakes import ScriptedRunner


class Calls:
    """A submit callback that records what it was called with."""

    def __init__(self) -> None:
        self.calls: List[tuple] = []
        self.called = threading.Event()

    def __call__(self, outputs: Any, error: Any) -> None:
        self.calls.append((outputs, error))
        self.called.set()


def _feed() -> dict:
    return {"image": resize_frame(synth_frame(False), SIZE, SIZE)[None]}


def test_outputs_that_cannot_be_selected_reach_the_callback_as_an_error() -> None:
    runner = ScriptedRunner(incomplete={0})
    runner.activate()
    callback = Calls()
    runner.submit(_feed(), callback)
    assert callback.called.wait(5), "the callback was never called"
    assert runner.wait_all(5)
    [(outputs, error)] = callback.calls
    assert outputs is None and isinstance(error, ValueError) and "lacks outputs" in str(error)
    runner.deactivate()


def _failing_model(ov: Any, runs: int = 0) -> Any:
    """The bundle's input, through an op that passes it on ``runs`` times and then raises: an
    inference that fails inside OpenVINO (a device lost after the runner's first inference)."""
    import openvino.opset13 as ops

    done = [0]

    class Failing(ov.Op):
        def __init__(self, inputs: Any = None) -> None:
            super().__init__(self, inputs)
            if inputs is not None:
                self.constructor_validate_and_infer_types()

        def validate_and_infer_types(self) -> None:
            self.set_output_type(0, self.get_input_element_type(0), self.get_input_partial_shape(0))

        def clone_with_new_inputs(self, new_inputs: Any) -> "Failing":
            return Failing(new_inputs)

        def has_evaluate(self) -> bool:
            return True

        def evaluate(self, outputs: Any, inputs: Any) -> bool:
            if done[0] >= runs:
                raise RuntimeError("device lost")
            done[0] += 1
            outputs[0].shape = inputs[0].shape
            outputs[0].data[:] = inputs[0].data
            return True

        def visit_attributes(self, visitor: Any) -> bool:
            return True

    image = ops.parameter([-1, SIZE, SIZE, 3], np.uint8, name="image")
    image.output(0).get_tensor().set_names({"image"})
    return ov.Model([Failing([image]).output(0)], [image], "failing")


def test_a_failed_openvino_request_reaches_the_callback(tiny_bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ov = pytest.importorskip("openvino", reason="openvino is not installed (openvino extra)")
    monkeypatch.setattr(ov.Core, "read_model", lambda self, path: _failing_model(ov, runs=1))
    runner = open_runner(tiny_bundle_dir, "openvino", jobs=1)
    runner.activate()  # its one request ran once, on a blank frame
    callback = Calls()
    runner.submit(_feed(), callback)
    assert callback.called.wait(5), "OpenVINO's failure never reached the callback"
    assert runner.wait_all(5)
    [(outputs, error)] = callback.calls
    assert outputs is None and "device lost" in str(error)
    with pytest.raises(RuntimeError, match="device lost"):
        runner.infer(_feed())
    runner.deactivate()


def test_an_openvino_model_that_cannot_run_is_refused_at_activation(tiny_bundle_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ov = pytest.importorskip("openvino", reason="openvino is not installed (openvino extra)")
    monkeypatch.setattr(ov.Core, "read_model", lambda self, path: _failing_model(ov))
    runner = open_runner(tiny_bundle_dir, "openvino", jobs=2)
    with pytest.raises(BackendError, match=r"model\.xml does not run on CPU: .*device lost"):
        runner.activate()


def test_onnxruntime_reads_its_output_names_once(tiny_bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_runner(tiny_bundle_dir, "onnxruntime") as runner:
        def per_frame_lookup() -> None:
            raise AssertionError("output names looked up for a frame")

        monkeypatch.setattr(runner._session, "get_outputs", per_frame_lookup)
        for _ in range(2):
            assert set(runner.infer(_feed())) == {"defect_prob", "attention_map", "localization_map"}
