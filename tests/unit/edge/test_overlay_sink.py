"""Reject pictures: the localization map on its absolute scale, and every defect box."""

from __future__ import annotations

import numpy as np

from edge.events import Event, Region
from edge.sinks.overlay import COLOURS, MAX_HEAT_OPACITY, paint_probability, render_overlay


def _frame() -> np.ndarray:
    return np.full((40, 80, 3), 100, np.uint8)


def test_a_map_near_zero_leaves_the_frame_as_it_is() -> None:
    assert np.array_equal(paint_probability(_frame(), np.zeros((1, 1, 4, 8), np.float32)), _frame())


def test_opacity_follows_the_probability_not_the_maps_own_range() -> None:
    low = paint_probability(_frame(), np.full((4, 8), 0.1, np.float32))
    high = paint_probability(_frame(), np.full((4, 8), 1.0, np.float32))
    # A flat map stays faint at 0.1 (min-max would have stretched it to full colour) ...
    assert np.abs(low.astype(int) - 100).max() <= round(0.1 * MAX_HEAT_OPACITY * 155) + 1
    # ... and a certain defect shows the colormap's top colour at full opacity over the frame.
    assert np.abs(high.astype(int) - 100).max() > 60


def test_every_region_of_a_reject_is_boxed() -> None:
    event = Event(kind="decision", frame=1, decision="reject", score=0.9,
                  regions=[Region(2, 2, 10, 10, 100, 0.9), Region(50, 20, 12, 12, 144, 0.7)])
    canvas = render_overlay(_frame(), None, event)
    red = np.all(canvas == COLOURS["reject"], axis=-1)
    for r in event.regions:
        assert red[r.y + r.h, r.x + r.w // 2] and red[r.y + r.h // 2, r.x]  # bottom and left edges


def test_a_bundle_that_does_not_localize_paints_no_map() -> None:
    event = Event(kind="decision", frame=1, decision="reject", score=0.9)
    outputs = {"localization_map": np.ones((1, 1, 4, 8), np.float32)}
    painted = render_overlay(_frame(), outputs, event)
    plain = render_overlay(_frame(), outputs, event, localizes=False)
    below_label = (slice(25, 40), slice(0, 80))
    assert np.abs(painted[below_label].astype(int) - 100).max() > 60
    assert np.array_equal(plain[below_label], _frame()[below_label])


def test_a_saved_reject_is_named_after_its_part(tmp_path) -> None:
    import cv2

    from edge.sinks.base import FrameContext
    from edge.sinks.overlay import SaveRejectsSink, reject_stem

    event = Event(kind="decision", frame=17, decision="reject", score=0.9, run="r1", file="defective/part 42.png")
    assert reject_stem(event) == "r1-00000017-defective_part_42"
    assert reject_stem(Event(kind="decision", frame=3, decision="reject", run="r1")) == "r1-00000003"
    SaveRejectsSink(str(tmp_path)).send(event, FrameContext(_frame(), None))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1-00000017-defective_part_42-overlay.png",
                                                           "r1-00000017-defective_part_42.png"]
    assert cv2.imread(str(tmp_path / "r1-00000017-defective_part_42.png")).shape == (40, 80, 3)


def test_a_station_s_name_cannot_lead_a_saved_reject_out_of_its_folder(tmp_path) -> None:
    from edge.sinks.base import FrameContext
    from edge.sinks.overlay import SaveRejectsSink, reject_stem

    event = Event(kind="decision", frame=5, decision="reject", score=0.9, run="r1", station="../../x")
    assert "/" not in reject_stem(event) and reject_stem(event) == "r1-.._.._x-00000005"
    folder = tmp_path / "rejects" / "here"
    SaveRejectsSink(str(folder)).send(event, FrameContext(_frame(), None))
    SaveRejectsSink(str(folder)).send(Event(kind="decision", frame=6, decision="reject", score=0.9, run="r1",
                                            station="lane/top"), FrameContext(_frame(), None))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == [
        "rejects/here/r1-.._.._x-00000005-overlay.png", "rejects/here/r1-.._.._x-00000005.png",
        "rejects/here/r1-lane_top-00000006-overlay.png", "rejects/here/r1-lane_top-00000006.png"]
