"""Checkpoints: atomic, weights_only=True, and RNG states that restore the exact random streams."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from gain_mtl.train.checkpoint import CheckpointError, capture_rng, load_checkpoint, restore_rng, save_checkpoint


def _draws() -> tuple[float, float, float]:
    return torch.rand(1).item(), float(np.random.rand()), random.random()


def test_rng_round_trip_through_a_weights_only_file(tmp_path):
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    path = save_checkpoint(tmp_path / "c.pt", {"epoch": 3, "rng": capture_rng(), "model": {"w": torch.ones(2)}})
    expected = _draws()
    _draws()
    state = load_checkpoint(path)  # torch.load(weights_only=True) inside
    restore_rng(state["rng"])
    assert _draws() == expected
    assert state["epoch"] == 3 and state["format"] == "gain-mtl-checkpoint/1"
    assert not list(tmp_path.glob(".*tmp"))  # no temporary left beside it


def test_a_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "gain-mtl-checkpoint/1", "obj": object()}, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_checkpoint(path)


def test_other_formats_and_missing_files_are_named(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="plain.pt.*format"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 1})

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert not list(tmp_path.glob(".*tmp"))


def test_load_model_keeps_the_trained_config_and_reads_no_weights_file(tmp_path):
    from gain_mtl.config import load_config
    from gain_mtl.models.network import GainMTL
    from gain_mtl.train.checkpoint import load_model

    # Loading the named weights file (absent here) or the hub would fail: the checkpoint's own win.
    config = load_config("tiny", ["model.pretrained=true", "model.weights=absent.safetensors"])
    path = save_checkpoint(tmp_path / "best.pt", {
        "model": GainMTL(config.model, load_weights=False).state_dict(), "config": config.to_dict(),
        "meta": {"threshold": 0.3},
    })
    model, loaded, meta = load_model(path)
    assert loaded == config and loaded.digest() == config.digest()
    assert not model.training and meta == {"threshold": 0.3}


def test_runs_saved_before_normalization_existed_keep_imagenet_statistics():
    from gain_mtl.config import load_config
    from gain_mtl.train.checkpoint import checkpoint_config

    stored = load_config("demo").to_dict()
    assert stored["model"]["normalization"] == "backbone"
    del stored["model"]["normalization"]
    assert checkpoint_config({"config": stored}, "old.pt").model.normalization == "imagenet"
