"""The trainer end to end on synthetic data with the tiny config (CPU, seconds).

One S5 run of 4 epochs (every stage occurs once) serves the file, history, stage-gating and eval
checks; a second run of the same config is interrupted with Ctrl-C in epoch 3 and resumed, and
must reproduce the first run's history exactly.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from gain_mtl.cli import main
from gain_mtl.config import load_config
from gain_mtl.schedule import LOSS_NAMES
from gain_mtl.train.history import read_history
from gain_mtl.train.trainer import train

pytestmark = pytest.mark.slow
S5_EPOCHS = 4


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    from gain_mtl.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("synth") / "data", n_normal=20, n_defective=20, size=64, seed=5)


def s5_config():
    return load_config("tiny", [f"train.epochs={S5_EPOCHS}", "train.strategy=S5"])


@pytest.fixture(scope="module")
def s5_run(synth_root, tmp_path_factory):
    return train(s5_config(), synth_root, tmp_path_factory.mktemp("s5") / "run")


def test_run_folder_holds_every_file(s5_run):
    for name in ("config.yaml", "split.json", "history.csv", "metrics.json",
                 "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (s5_run / name).is_file(), name
    assert list((s5_run / "tensorboard").glob("events.*"))
    assert load_config(s5_run / "config.yaml") == s5_config()  # the resolved config, re-readable
    metrics = json.loads((s5_run / "metrics.json").read_text())
    assert metrics["best_metric"] == "val_auroc+loc_iou" and 0.0 <= metrics["threshold"] <= 1.0
    # S5 trains every loss at full weight only in stage 4: the last of the four epochs.
    assert metrics["epoch"] == S5_EPOCHS


def test_checkpoint_holds_states_and_threshold(s5_run):
    from gain_mtl.train.checkpoint import load_checkpoint, load_model

    state = load_checkpoint(s5_run / "checkpoints" / "last.pt")
    assert state["epoch"] == S5_EPOCHS
    for key in ("model", "optimizer", "scheduler", "scaler", "rng", "config", "meta"):
        assert key in state
    assert set(state["rng"]) >= {"torch", "numpy", "python"}
    model, config, meta = load_model(s5_run / "checkpoints" / "best.pt")
    assert not model.training and config.train.strategy == "S5"
    assert config == s5_config() and config.digest() == meta["config_digest"]  # the config as trained
    assert meta["target_recall"] == config.train.target_recall
    assert meta["threshold_precision"] is not None and 0.0 <= meta["threshold"] <= 1.0


def test_history_shows_the_stage_gating(s5_run):
    rows = read_history(s5_run / "history.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, S5_EPOCHS + 1))
    assert [int(r["stage"]) for r in rows] == [1, 2, 3, 4]
    first, last = rows[0], rows[-1]
    assert float(first["loss_cls"]) > 0 and float(first["w_cls"]) > 0
    for name in LOSS_NAMES[1:]:
        assert float(first[f"loss_{name}"]) == 0.0 and float(first[f"w_{name}"]) == 0.0, name
    for name in LOSS_NAMES:
        assert float(last[f"loss_{name}"]) > 0 and float(last[f"w_{name}"]) > 0, name
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[0] == pytest.approx(3e-3) and lrs == sorted(lrs, reverse=True)  # cosine


def test_ctrl_c_then_resume_equals_the_uninterrupted_run(s5_run, synth_root, tmp_path, monkeypatch):
    from gain_mtl.train import progress

    original = progress.EpochProgress.update

    def ctrl_c_in_epoch_3(self, running):
        if self._bar.desc.startswith("epoch 3/"):
            raise KeyboardInterrupt
        original(self, running)

    monkeypatch.setattr(progress.EpochProgress, "update", ctrl_c_in_epoch_3)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(s5_config(), synth_root, run)
    assert [int(r["epoch"]) for r in read_history(run / "history.csv")] == [1, 2]
    monkeypatch.undo()

    train(s5_config(), synth_root, run, resume=True)
    assert read_history(run / "history.csv") == read_history(s5_run / "history.csv")


def test_eval_writes_every_key(s5_run, synth_root, tmp_path):
    out = tmp_path / "eval"
    result = CliRunner().invoke(main, ["eval", "--checkpoint", str(s5_run / "checkpoints" / "best.pt"),
                                       "--data", str(synth_root), "--split", "test", "--out", str(out),
                                       "--samples", "2"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1", "auroc", "confusion", "threshold",
                "cam_iou", "point_game", "energy_inside",
                "attention_iou", "attention_point_game", "attention_energy_inside",
                "loc_iou", "loc_dice", "pixel_accuracy"):
        assert key in metrics and metrics[key] is not None, key
    for key in ("accuracy", "precision", "recall", "f1", "confusion"):
        assert key in metrics["at_0.5"], key
    assert metrics["n_with_mask"] == metrics["n_defective"] > 0
    assert sum(metrics["confusion"].values()) == metrics["n_images"]
    assert (out / "overlays.png").stat().st_size > 1000
    import csv

    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == metrics["n_images"]
    rejected = [float(r["prob"]) >= metrics["threshold"] for r in rows]
    assert [r["decision"] for r in rows] == ["reject" if x else "accept" for x in rejected]
    assert sum(int(r["label"]) == 1 and x for r, x in zip(rows, rejected)) == metrics["confusion"]["tp"]
    assert "| CAM |" in (out / "report.md").read_text()
    # val is re-made from the run's seed and checked against the stored split digest
    val = CliRunner().invoke(main, ["eval", "--checkpoint", str(s5_run / "checkpoints" / "best.pt"),
                                    "--data", str(synth_root), "--split", "val", "--out", str(tmp_path / "v")])
    assert val.exit_code == 0, val.output
    # A data folder that splits differently (one training image fewer) is refused for val.
    other = tmp_path / "other-data"
    shutil.copytree(synth_root, other)
    next((other / "images" / "train" / "normal").iterdir()).unlink()
    refused = CliRunner().invoke(main, ["eval", "--checkpoint", str(s5_run / "checkpoints" / "best.pt"),
                                        "--data", str(other), "--split", "val", "--out", str(tmp_path / "v2")])
    assert refused.exit_code == 2 and "another train/val split" in refused.output, refused.output


@pytest.mark.parametrize("channel_order", ["BGR", "RGB"])
def test_bench_reference_agrees_with_the_exported_graph(s5_run, channel_order):
    """The PyTorch reference of `gainctl bench` runs the full model on the graph's preprocessing."""
    import numpy as np
    import torch

    from edge.bundle import InputSpec
    from gain_mtl.bench_reference import TorchReferenceRunner
    from gain_mtl.export.graph import OUTPUT_NAMES, InferenceGraph
    from gain_mtl.train.checkpoint import load_model

    best = s5_run / "checkpoints" / "best.pt"
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    runner = TorchReferenceRunner(best, InputSpec(height=64, width=64, channel_order=channel_order))
    runner.activate()
    got = runner.infer({"image": frames})
    runner.deactivate()
    model, config, _ = load_model(best)
    with torch.inference_mode():
        expected = InferenceGraph(model, config.train.strategy, channel_order)(torch.from_numpy(frames))
    assert list(got) == list(OUTPUT_NAMES)
    for name, tensor in zip(OUTPUT_NAMES, expected):
        np.testing.assert_allclose(got[name], tensor.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_focal_scale_multiplies_only_the_focal_terms(synth_root, tmp_path):
    from gain_mtl.schedule import loss_weights

    config = load_config("tiny", ["train.epochs=4", "train.strategy=S5", "loss.focal_scale=5"])
    rows = read_history(train(config, synth_root, tmp_path / "run") / "history.csv")
    table = loss_weights("S5", 3 / 4, config.train.loc_warmup_ratio)
    last = rows[-1]
    for name in LOSS_NAMES:
        scale = 5.0 if name in ("cls", "am") else 1.0
        assert float(last[f"w_{name}"]) == pytest.approx(scale * table[name]), name
        assert loss_weights("S5", 3 / 4, config.train.loc_warmup_ratio, 5.0)[name] == pytest.approx(scale * table[name])


def test_parts_reach_the_threshold_and_its_check(synth_root, tmp_path):
    """With parts.csv (two shots per defective part), the threshold ranks validation's defective
    parts and eval checks the test split's parts against that promise."""
    root = tmp_path / "data"
    shutil.copytree(synth_root, root)
    rows = []
    for split in ("train", "test"):
        shots = sorted((root / "images" / split / "defective").iterdir())
        rows += [(p.relative_to(root).as_posix(), f"{split}-part-{i // 2}") for i, p in enumerate(shots)]
    (root / "parts.csv").write_text("image,part\n" + "".join(f"{image},{part}\n" for image, part in rows))
    run = train(load_config("tiny", ["train.epochs=1", "train.strategy=S1"]), root, tmp_path / "run")
    split = json.loads((run / "split.json").read_text())
    val_parts = {e["part"] for e in split["val"] if e["label"] == 1}
    assert val_parts and all(e.get("part") for e in split["val"] if e["label"] == 1)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_val_defect_parts"] == len(val_parts) < metrics["n_val_defects"]
    out = tmp_path / "eval"
    result = CliRunner().invoke(main, ["eval", "--checkpoint", str(run / "checkpoints" / "best.pt"),
                                       "--data", str(root), "--split", "test", "--out", str(out)])
    assert result.exit_code == 0, result.output
    evaluated = json.loads((out / "metrics.json").read_text())
    test_parts = {part for _, part in rows if part.startswith("test-")}
    assert evaluated["recall_unit"] == "parts" and evaluated["split_checked_defects"] == len(test_parts)
    import csv

    from gain_mtl.evaluate.threshold import part_recall

    rows_by_image = {row["image"]: row for row in csv.DictReader((out / "predictions.csv").open())}
    part_of = dict((image.split("/")[-1], part) for image, part in rows)
    shots = [r for r in rows_by_image.values()]
    caught, count = part_recall([float(r["prob"]) for r in shots], [int(r["label"]) for r in shots],
                                evaluated["threshold"], [part_of.get(r["image"]) for r in shots])
    assert (caught / count, count) == (evaluated["split_checked_recall"], len(test_parts))
    text = (out / "report.md").read_text()
    assert "defective parts the measured share of parts with every image caught should lie in" in text
