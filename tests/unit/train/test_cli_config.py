"""`gainctl train` config resolution: file, --set and KEY=VALUE overrides, flags, the run's own
config on --resume; and the global batch split over processes."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from gain_mtl.cli import main
from gain_mtl.cli.train import build_config, without_nproc
from gain_mtl.config import ConfigError, save_config
from gain_mtl.train.distributed import DistInfo
from gain_mtl.train.loaders import MAX_WORKERS, per_rank_batch, worker_count


def test_overrides_then_flags(tmp_path):
    cfg = build_config("tiny", tmp_path, False, ("train.lr=0.01",), ("train.seed=7",),
                       {"strategy": "S3", "epochs": 5, "image_size": 96, "weights": "w.safetensors"})
    assert (cfg.train.lr, cfg.train.seed, cfg.train.strategy, cfg.train.epochs) == (0.01, 7, "S3", 5)
    assert cfg.data.image_size == 96 and cfg.model.weights == "w.safetensors"
    # --weights is model.weights=..., nothing more (the network lets a weights file win over the hub)
    assert cfg == build_config("tiny", tmp_path, False, ("train.lr=0.01", "model.weights=w.safetensors"),
                               ("train.seed=7",), {"strategy": "S3", "epochs": 5, "image_size": 96})
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


@pytest.mark.parametrize("cores, expected", [(1, 0), (2, 1), (4, 3), (64, MAX_WORKERS)])
def test_auto_workers_leave_a_core_to_the_training_loop(monkeypatch, cores, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert worker_count(-1) == expected


def test_a_weights_file_replaces_the_hub_download(tmp_path, monkeypatch):
    from gain_mtl.models import network

    cfg = build_config("default", tmp_path, False, (), (), {"weights": "w.safetensors"})
    assert cfg.model.pretrained is True and cfg.model.weights == "w.safetensors"
    hub = []

    class Seen(Exception):
        """Enough seen: nothing else needs building."""

    def backbone(name, pretrained, freeze_stages):
        hub.append(pretrained)
        raise Seen

    monkeypatch.setattr(network, "Backbone", backbone)
    with pytest.raises(Seen):
        network.GainMTL(cfg.model)
    assert hub == [False]


def test_nproc_hands_every_other_argument_to_torchrun_as_typed(monkeypatch):
    from gain_mtl.train import distributed

    calls = []
    monkeypatch.setattr(distributed, "run_torchrun", lambda nproc, args: calls.append((nproc, args)) or 0)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    typed = ["--data", "d", "--out", "o", "--config", "tiny", "--image-size", "96", "--weights", "w.pt",
             "--set", "train.lr=0.1", "--resume", "train.seed=3"]
    result = CliRunner().invoke(main, ["train", *typed[:4], "--nproc", "2", *typed[4:]])
    assert result.exit_code == 0, result.output
    assert calls == [(2, ["train", *typed])]


def test_without_nproc_leaves_positional_overrides_alone():
    assert without_nproc(["--nproc=3", "--data", "d", "a=1", "--", "--nproc", "2"]) == \
        ["--data", "d", "a=1", "--", "--nproc", "2"]
    assert without_nproc(["--out", "o", "--nproc", "4"]) == ["--out", "o"]
