"""The demo's account of eval against the line: counts per path, and every differing part named."""

from __future__ import annotations

from gain_mtl.demo import LINE_TOLERANCE, compare_paths, score_decisions


def _paths(video_flips: int) -> dict[str, dict[str, str]]:
    parts = [f"defective/d{i}.png" for i in range(4)] + [f"normal/n{i}.png" for i in range(6)]
    truth = {p: "reject" if p.startswith("defective") else "accept" for p in parts}
    png = dict(truth, **{"defective/d0.png": "accept"})  # the export lost one defect
    video = dict(png)
    for p in parts[4:4 + video_flips]:
        video[p] = "reject"
    return {"eval": truth, "png": png, "video": video}


def test_counts_per_path_treat_a_fault_as_a_stop():
    counts = score_decisions({"defective/a.png": "fault", "normal/b.png": "fault", "normal/c.png": "accept"})
    assert counts == {"parts": 3, "faults": 2, "defects_rejected": 1, "defects": 1, "normals_accepted": 1, "normals": 2}


def test_each_difference_is_named_and_put_down_to_its_cause():
    lines = compare_paths(_paths(video_flips=1))
    assert "eval   defects rejected 4/4, good parts accepted 6/6, faults 0" in lines[0]
    assert "video  defects rejected 3/4, good parts accepted 5/6" in lines[2]
    assert "eval vs png (the export: INT8 and its own threshold): 1 of 10 parts decided differently: defective/d0.png" in lines[3]
    assert "png vs video (the camera's MJPG compression): 1 of 10 parts decided differently: normal/n0.png; within" in lines[4]
    # The line against the evaluation end to end: both causes add up.
    assert ("eval vs video (the line against the evaluation, both causes together): 2 of 10 parts decided "
            "differently: defective/d0.png, normal/n0.png; within the tolerance of 2") in lines[5]
    assert len(lines) == 6  # no warning while both are within the tolerance


def test_a_line_beyond_the_tolerance_is_said_plainly():
    lines = compare_paths(_paths(video_flips=LINE_TOLERANCE + 1))
    assert "BEYOND the line's tolerance" in lines[4]
    assert "does NOT agree" in lines[5]
    assert f"{LINE_TOLERANCE + 2} of 10 parts decided differently" in lines[6] and "BEYOND the tolerance" in lines[6]
