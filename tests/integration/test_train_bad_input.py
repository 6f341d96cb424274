"""Bad input stops `gainctl train` / `gainctl eval` with exit code 2 and a message naming the
value, before any training step (no history.csv, no checkpoint)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gain_mtl.cli import main
from gain_mtl.config import load_config


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    from gain_mtl.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("synth") / "data", n_normal=6, n_defective=6, size=64, seed=1)


def _train(data, out, *args):
    return CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(out), "--config", "tiny", *args])


def _refused(result, out, *fragments):
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)
    assert not (out / "history.csv").exists()
    assert not (out / "checkpoints" / "best.pt").exists()


def test_data_folder_failing_the_check(tmp_path):
    bad = tmp_path / "bad"
    (bad / "images" / "train" / "normal").mkdir(parents=True)
    (bad / "images" / "train" / "normal" / "a.png").write_bytes(b"not a png")
    _refused(_train(bad, tmp_path / "run"), tmp_path / "run", "fails the data check", "a.png")


def test_unknown_strategy(synth_root, tmp_path):
    _refused(_train(synth_root, tmp_path / "run", "--strategy", "S9"), tmp_path / "run", "S9", "S1")


def test_image_size_not_divisible_by_the_stride(synth_root, tmp_path):
    _refused(_train(synth_root, tmp_path / "run", "--image-size", "80"), tmp_path / "run",
             "80", "stride 32", "use 64 or 96")


@pytest.mark.parametrize(("override", "fragment"), [
    ("train.target_recall=0", "train.target_recall must be in (0, 1], got 0.0"),
    ("train.loc_warmup_ratio=2", "train.loc_warmup_ratio must be in [0, 1], got 2.0"),
    ("train.s6_alpha_start=-0.5", "train.s6_alpha_start must be in [0, 1]"),
    ("train.s6_alpha_end=1.5", "train.s6_alpha_end must be in [0, 1]"),
    ("train.batch_size=0", "train.batch_size must be at least 1, got 0"),
])
def test_values_out_of_range_stop_before_the_first_checkpoint(synth_root, tmp_path, override, fragment):
    run = tmp_path / "run"
    _refused(_train(synth_root, run, override), run, fragment)
    assert not (run / "checkpoints" / "last.pt").exists()


def test_the_corrected_rerun_of_a_refused_run_trains(synth_root, tmp_path):
    run = tmp_path / "run"
    _refused(_train(synth_root, run, "train.target_recall=0"), run, "train.target_recall")
    result = _train(synth_root, run, "--epochs", "1", "train.target_recall=0.9")
    assert result.exit_code == 0, result.output
    assert (run / "checkpoints" / "best.pt").is_file()


def test_unknown_override_key(synth_root, tmp_path):
    _refused(_train(synth_root, tmp_path / "run", "train.epoch=3"), tmp_path / "run", "train.epoch")


def test_resume_with_a_checkpoint_of_another_architecture(synth_root, tmp_path):
    from gain_mtl.train.checkpoint import save_checkpoint

    run = tmp_path / "run"
    other = load_config("tiny", ["model.fpn_channels=16"])
    save_checkpoint(run / "checkpoints" / "last.pt", {"config": other.to_dict(), "meta": {}, "epoch": 1})
    _refused(_train(synth_root, run, "--resume"), run, "another architecture", "model.fpn_channels")


def test_resume_of_a_run_trained_under_another_mask_rule(synth_root, tmp_path):
    from gain_mtl.train.checkpoint import save_checkpoint

    run = tmp_path / "run"
    same = load_config("tiny")
    save_checkpoint(run / "checkpoints" / "last.pt", {"config": same.to_dict(), "meta": {}, "epoch": 1})
    _refused(_train(synth_root, run, "--resume"), run, "mask rule 1", "start a new --out folder")


def test_eval_with_weights_of_another_architecture(synth_root, tmp_path):
    from gain_mtl.models.network import GainMTL
    from gain_mtl.train.checkpoint import save_checkpoint

    tiny = load_config("tiny")
    claimed = load_config("tiny", ["model.fpn_channels=16"])
    path = save_checkpoint(tmp_path / "other.pt", {
        "model": GainMTL(tiny.model).state_dict(), "config": claimed.to_dict(), "meta": {}, "epoch": 1,
    })
    result = CliRunner().invoke(main, ["eval", "--checkpoint", str(path), "--data", str(synth_root),
                                       "--out", str(tmp_path / "eval")])
    assert result.exit_code == 2, result.output
    assert "other.pt" in result.output and "another architecture" in result.output
    assert not (tmp_path / "eval" / "metrics.json").exists()


def test_a_second_training_into_a_run_folder_needs_resume(synth_root, tmp_path):
    from gain_mtl.train.checkpoint import save_checkpoint

    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "last.pt", {"config": load_config("tiny").to_dict(), "meta": {}})
    _refused(_train(synth_root, run), run, "--resume")


def test_eval_on_an_unknown_device_names_it(synth_root, tmp_path):
    result = CliRunner().invoke(main, ["eval", "--checkpoint", str(tmp_path / "best.pt"), "--data", str(synth_root),
                                       "--out", str(tmp_path / "eval"), "--device", "foo"])
    assert result.exit_code == 2, result.output
    assert "device 'foo' is not one of: auto, cpu, cuda" in result.output
    assert not (tmp_path / "eval").exists()
