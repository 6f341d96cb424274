"""benchmarks/quality.py's own arithmetic: recall at equal precision, and a command line that names
no folder of the machine it ran on."""

from __future__ import annotations

import pytest

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def quality():
    return benchmark_script("quality")


def _rows(scored: list[tuple[float, int]]) -> list[dict[str, str]]:
    return [{"prob": str(p), "label": str(y)} for p, y in scored]


def test_recall_at_precision_is_the_best_cut_that_keeps_the_precision(quality):
    # ranked: 1 1 0 1 0 1 -> cuts: P 1, 1, .67, .75, .6, .67 / R .25, .5, .5, .75, .75, 1
    rows = _rows([(0.9, 1), (0.8, 1), (0.7, 0), (0.6, 1), (0.5, 0), (0.4, 1)])
    assert quality.recall_at_precision(rows, 0.75) == pytest.approx(0.75)
    assert quality.recall_at_precision(rows, 0.6) == pytest.approx(1.0)
    assert quality.recall_at_precision(rows, 1.0) == pytest.approx(0.5)
    assert quality.recall_at_precision(_rows([(0.9, 0), (0.1, 1)]), 0.9) == 0.0


def test_the_reported_command_leaves_out_the_folders(quality):
    args = ["--work", "/scratch/q", "--strategies", "S5", "--source=/data/mt", "--set", "train.amp=bf16"]
    assert quality.public_args(args) == ["--strategies", "S5", "--set", "train.amp=bf16"]


def test_line_frames_link_every_test_image_once_in_the_order_the_line_reads_them(quality, tmp_path):
    for kind, names in (("normal", ["b.png", "a.png"]), ("defective", ["a.png"])):
        folder = tmp_path / "data" / "images" / "test" / kind
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_bytes(kind.encode())
    frames = tmp_path / "frames"
    expected = [(0, "a.png"), (0, "b.png"), (1, "a.png")]
    assert quality.line_frames(tmp_path / "data", frames) == expected
    assert quality.line_frames(tmp_path / "data", frames) == expected  # a rerun links nothing twice
    assert (frames / "1-a.png").read_bytes() == b"defective"


def _decision(frame: int, decision: str, score: float | None):
    from edge.events import Event

    return Event(kind="decision", frame=frame, decision=decision, score=score, threshold=0.5)


def test_compare_decisions_counts_a_fault_as_stopping_the_part_but_never_as_agreeing(quality):
    import numpy as np
    from edge.events import Event

    label = np.array([0, 0, 1, 1])
    eval_prob = np.array([0.1, 0.6, 0.9, 0.4])
    eval_decision = ["accept", "reject", "reject", "accept"]
    events = [_decision(3, "fault", None), Event(kind="status", detail={"message": "source lost"}),
              _decision(0, "accept", 0.12), _decision(1, "accept", 0.45), _decision(2, "reject", 0.9)]
    result = quality.compare_decisions(label, eval_prob, eval_decision, events)
    assert result["faults"] == 1
    assert result["disagree"] == 2 and result["agreement"] == pytest.approx(0.5)
    assert result["max_abs_prob_diff"] == pytest.approx(0.15)
    assert result["recall"] == pytest.approx(1.0)  # the faulted defect was stopped, not accepted
    assert result["precision"] == pytest.approx(1.0)


def test_compare_decisions_refuses_a_journal_that_misses_a_frame(quality):
    import numpy as np

    with pytest.raises(ValueError, match="2 decisions .* for 3 frames"):
        quality.compare_decisions(np.array([0, 1, 0]), np.zeros(3), ["accept"] * 3,
                                  [_decision(0, "accept", 0.1), _decision(2, "accept", 0.1)])


def test_a_refused_step_returns_its_last_line_only_when_asked(quality, tmp_path):
    log = tmp_path / "quality.log"
    args = ("export", "--checkpoint", str(tmp_path / "missing.pt"), "--data", str(tmp_path), "--out", str(tmp_path / "b"))
    line = quality.gainctl(*args, log=log, check=False)
    assert line is not None and "missing.pt" in line
    with pytest.raises(SystemExit, match="'gainctl export' failed"):
        quality.gainctl(*args, log=log)


def test_the_robustness_target_names_every_model_and_perturbation_below_it(quality):
    def model(agreements):
        return {"threshold": 0.5, "clean": {"recall": 1.0, "precision": 0.9}, "min_agreement": 0.0,
                "guarded": ["jpeg-75"], "passed": True,
                "perturbations": {name: {"agreement": a, "flips": 1, "recall": 1.0, "precision": 0.9}
                                  for name, a in agreements.items()}}

    table = {"fp32": {"openvino": model({"jpeg-75": 0.99, "blur-sigma1": 0.96})},
             "int8": {"openvino": model({"jpeg-75": 0.95, "blur-sigma1": 0.98})}}
    lines = "\n".join(quality.robustness_section(table))
    assert "| int8 (openvino) | jpeg-75 | 0.9500 |" in lines
    assert ("lowest 0.950 (int8 (openvino) jpeg-75) **not met**; below: fp32 (openvino) blur-sigma1 0.960, "
            "int8 (openvino) jpeg-75 0.950") in lines
    fine = {"fp32": {"openvino": model({"jpeg-75": 0.99})}}
    assert "lowest 0.990 (fp32 (openvino) jpeg-75) **met**" in "\n".join(quality.robustness_section(fine))
    assert quality.robustness_section({}) == []


def test_the_recall_target_is_checked_on_the_tiles_the_threshold_promised(quality):
    m = {"auroc": 0.97, "recall": 1.0, "precision": 0.6, "loc_iou": 0.3, "cam_iou": 0.2, "point_game": 0.3,
         "target_recall": 0.95, "recall_unit": "parts", "split_checked_recall": 12 / 13, "split_checked_defects": 13,
         "split_recall_interval": [0.77, 1.0], "recall_inside_interval": True, "expected_recall": 0.94,
         "n_defective": 67}
    lines = quality.targets({"S5": m}, {"S5": 0.6})
    recall = next(line for line in lines if line.startswith("- S5 test recall"))
    assert "share of defective tiles with every image caught 0.923" in recall and "13 test parts" in recall
    assert recall.count("**not met**") == 1 and recall.endswith("**met**")  # 0.05 off the target; inside
    row = next(quality.result_rows({"S5": {**m, **dict.fromkeys(
        ("threshold", "f1", "energy_inside", "attention_iou", "attention_point_game", "loc_threshold", "loc_dice"),
        0.5)}}, {"S5": 0.6}, {"S5": 20.0}))
    assert row[4] == "12/13" and row[5] == "0.940 [0.770, 1.000]"
