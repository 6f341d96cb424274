"""Backend options are declared once in the backend table; callers filter their settings through it."""

from __future__ import annotations

import inspect

import pytest

from edge.backends import BACKENDS, backend_info
from edge.bench.modes import LATENCY, THROUGHPUT, mode_options


@pytest.mark.parametrize("info", BACKENDS, ids=lambda b: b.name)
def test_declared_options_are_the_runners_keywords(info) -> None:
    """Runner modules import their runtime only when activated, so this holds where none is installed."""
    parameters = inspect.signature(info.load_runner_class().__init__).parameters
    assert set(info.options) <= set(parameters), info.name


def test_settings_reach_only_the_backends_that_take_them() -> None:
    settings = {"device": "CPU", "hint": "LATENCY", "threads": 2, "jobs": None}
    assert backend_info("openvino").options_for(**settings) == {"device": "CPU", "hint": "LATENCY"}
    assert backend_info("onnxruntime").options_for(**settings) == {"threads": 2}
    assert backend_info("tensorrt").options_for(**settings, max_batch=4) == {"max_batch": 4}
    assert backend_info("onnxruntime").options_for(jobs=3) == {"jobs": 3}


def test_only_backends_with_a_hint_get_a_latency_and_a_throughput_mode() -> None:
    assert mode_options("openvino", LATENCY) == LATENCY and mode_options("openvino", THROUGHPUT) == THROUGHPUT
    assert mode_options("onnxruntime", THROUGHPUT) == {} and mode_options("torch", THROUGHPUT) == {}
