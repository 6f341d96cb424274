"""The trainer's up-front checks: every config value the schedule or the threshold choice would only
refuse after an epoch, and every device name, is named before any data is read."""

from __future__ import annotations

import pytest
import torch

from gain_mtl.config import load_config
from gain_mtl.train.trainer import TrainError, check_config, resolve_device


@pytest.mark.parametrize(("override", "message"), [
    ("train.target_recall=0", r"train.target_recall must be in \(0, 1\], got 0.0"),
    ("train.target_recall=1.5", r"train.target_recall must be in \(0, 1\], got 1.5"),
    # A confidence of 1 no finite validation split can give: refused, not trained into a warning.
    ("train.recall_confidence=1", r"train.recall_confidence must be in \(0, 1\), got 1.0"),
    ("train.recall_confidence=0", r"train.recall_confidence must be in \(0, 1\), got 0.0"),
    ("train.loc_warmup_ratio=-0.1", r"train.loc_warmup_ratio must be in \[0, 1\], got -0.1"),
    ("train.s6_alpha_start=2", r"train.s6_alpha_start must be in \[0, 1\], got 2.0"),
    ("train.s6_alpha_end=-1", r"train.s6_alpha_end must be in \[0, 1\], got -1.0"),
    ("train.batch_size=0", "train.batch_size must be at least 1, got 0"),
    ("train.epochs=0", "train.epochs must be at least 1, got 0"),
])
def test_values_out_of_range_are_named_with_the_range(override, message):
    with pytest.raises(TrainError, match=message):
        check_config(load_config("tiny", [override]))


@pytest.mark.parametrize("override", ["train.target_recall=1", "train.loc_warmup_ratio=0", "train.s6_alpha_start=1",
                                      "train.s6_alpha_end=0", "train.batch_size=1",
                                      "train.recall_confidence=0.999"])
def test_the_ends_of_each_range_are_allowed(override):
    check_config(load_config("tiny", [override]))


@pytest.mark.parametrize("name", ["foo", "cuda:x", "gpu", "cpu:"])
def test_unknown_devices_are_named(name):
    with pytest.raises(TrainError, match=f"device '{name}' is not one of: auto, cpu, cuda"):
        resolve_device(name)


def test_known_devices_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="CUDA is not available here; use --device cpu"):
            resolve_device("cuda")
    else:
        with pytest.raises(TrainError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
