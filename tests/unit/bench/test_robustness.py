"""Camera perturbations and the robustness measurement: each perturbation does what its name says,
agreement counts flipped decisions by the line's own rule, and the guard names what failed."""

from __future__ import annotations

import numpy as np
import pytest

from edge.bench.robustness import GUARDED, PERTURBATIONS, RobustnessError, check_names, measure_robustness


def perturb(frames: np.ndarray, name: str) -> np.ndarray:
    """Each frame through the named perturbation, as measure_robustness applies it."""
    return np.stack([PERTURBATIONS[name](np.ascontiguousarray(f)) for f in frames])


def _identity(frame: np.ndarray) -> np.ndarray:
    return frame


def _frames(n: int = 6, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    smooth = np.linspace(40, 200, size, dtype=np.float32)[None, :, None] * np.ones((n, size, 1, 3), np.float32)
    return np.clip(smooth + rng.normal(0, 12, (n, size, size, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_every_perturbation_keeps_the_frame_shape_and_changes_its_pixels(name):
    frames = _frames()
    out = perturb(frames, name)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - frames.astype(int)).mean() > 0.5


def test_perturbations_go_the_way_their_names_say():
    frames = _frames()
    mean = frames.mean()
    assert perturb(frames, "brightness+15%").mean() > mean > perturb(frames, "brightness-15%").mean()
    assert perturb(frames, "gamma-0.8").mean() > mean > perturb(frames, "gamma-1.2").mean()
    error = {q: np.abs(perturb(frames, f"jpeg-{q}").astype(int) - frames).mean() for q in (75, 50)}
    assert error[50] > error[75]
    assert perturb(frames, "blur-sigma1").std() < frames.std()  # noise smoothed
    shifted = perturb(frames, "shift-2%")
    assert np.array_equal(shifted[:, 1:, 1:], frames[:, :-1, :-1])  # 2% of 32 px rounds to one pixel


def test_unknown_perturbation_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown perturbation.*jpeg-75"):
        check_names(["jpeg-75", "jpeg-10"])


def test_agreement_counts_the_decisions_a_perturbation_flips():
    frames = _frames(10)
    labels = np.array([0, 1] * 5)
    brightness = frames.reshape(len(frames), -1).mean(axis=1)
    # A "model" whose score is the frame's brightness: frames near the threshold flip when brightened.
    threshold = float(np.sort(brightness)[5])

    def score(x):
        return x.reshape(len(x), -1).mean(axis=1) / 255.0

    result = measure_robustness(score, list(frames), labels, threshold / 255.0, _identity,
                                names=["brightness+15%", "brightness-15%", "jpeg-75"])
    up, down = result.perturbations["brightness+15%"], result.perturbations["brightness-15%"]
    assert up["flips"] == 5 and up["agreement"] == 0.5      # the five dark frames become rejects
    assert down["flips"] == 5                               # the five bright ones become accepts
    assert result.perturbations["jpeg-75"]["agreement"] >= 0.8
    assert not result.passed
    with pytest.raises(RobustnessError, match=r"int8 \(openvino\).*brightness\+15%: agreement 0.500 < 0.970"):
        result.raise_if_failed("int8 (openvino)")
    assert result.to_dict()["guarded"] == list(GUARDED)
    assert set(GUARDED) <= set(PERTURBATIONS)


def test_a_nan_score_is_flagged_like_a_reject_and_a_zero_guard_never_fails():
    frames = _frames(4)
    labels = np.array([0, 0, 1, 1])
    calls = iter([np.array([0.1, 0.1, 0.9, 0.9]), np.array([np.nan, 0.1, 0.9, 0.9])])
    result = measure_robustness(lambda x: next(calls), list(frames), labels, 0.5, _identity, names=["jpeg-75"],
                                min_agreement=0.0)
    assert result.perturbations["jpeg-75"] == {"agreement": 0.75, "flips": 1, "recall": 1.0, "precision": 2 / 3}
    assert result.passed


def test_perturbations_act_on_the_stored_frame_before_the_resize():
    """A JPEG of a large frame, then the edge's downscale, changes the model's input less than a JPEG
    of the small input would: the measurement starts from the frame the camera sends."""
    import cv2

    from edge.preprocess import resize_frame

    big = [cv2.resize(f, (128, 128), interpolation=cv2.INTER_CUBIC) for f in _frames(4)]
    seen = []

    def score(inputs):
        seen.append(inputs)
        return np.zeros(len(inputs))

    measure_robustness(score, big, np.array([0, 1, 0, 1]), 0.5, lambda f: resize_frame(f, 32, 32), names=["jpeg-50"])
    clean, compressed = seen
    assert clean.shape == compressed.shape == (4, 32, 32, 3)
    small_first = perturb(clean, "jpeg-50")
    assert np.abs(compressed.astype(int) - clean).mean() < np.abs(small_first.astype(int) - clean).mean()
