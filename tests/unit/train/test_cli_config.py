"""`gainctl train` config resolution: file, --set and KEY=VALUE overrides, flags, the run's own
config on --resume; and the global batch split over processes."""

from __future__ import annotations

import pytest

from gain_mtl.cli.train import build_config
from gain_mtl.config import ConfigError, save_config
from gain_mtl.train.distributed import DistInfo
from gain_mtl.train.loaders import per_rank_batch, worker_count


def test_overrides_then_flags(tmp_path):
    cfg = build_config("tiny", tmp_path, False, ("train.lr=0.01",), ("train.seed=7",),
                       {"strategy": "S3", "epochs": 5, "image_size": 96, "weights": "w.safetensors"})
    assert (cfg.train.lr, cfg.train.seed, cfg.train.strategy, cfg.train.epochs) == (0.01, 7, "S3", 5)
    assert cfg.data.image_size == 96 and cfg.model.weights == "w.safetensors"
    assert cfg.model.pretrained is False  # a local weights file, not the hub
    with pytest.raises(ConfigError, match="train.lrate"):
        build_config("tiny", tmp_path, False, ("train.lrate=1",), (), {})


def test_resume_starts_from_the_runs_own_config(tmp_path):
    save_config(build_config("tiny", tmp_path, False, (), (), {"epochs": 3}), tmp_path / "config.yaml")
    assert build_config(None, tmp_path, True, (), (), {}).train.epochs == 3
    assert build_config(None, tmp_path, False, (), (), {}).train.epochs == 100  # the design's default


def test_global_batch_divides_over_processes():
    cfg = build_config("tiny", ".", False, (), (), {})
    assert per_rank_batch(cfg, DistInfo(0, 2, 0)) == cfg.train.batch_size // 2
    with pytest.raises(ValueError, match="multiple of --nproc"):
        per_rank_batch(cfg, DistInfo(0, 3, 0))
    assert worker_count(0) == 0 and 0 <= worker_count(-1) <= 8
