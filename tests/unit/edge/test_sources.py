"""Sources: reconnect with fault frames, image folders, opening errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from edge.sources import Backoff, CaptureSource, SourceError, open_source, without_credentials
from tests.helpers.tiny_bundle import SyntheticCamera, synth_frame


def test_lost_camera_yields_source_lost_frames_and_reconnects() -> None:
    cam = SyntheticCamera(frames=30, fps=100.0, outages={10: 0.3})
    src = CaptureSource(cam.open, "synthetic camera", live=True, fps=100.0, backoff=Backoff(initial_s=0.05, max_s=0.1))
    cam.on_exhausted = src.stop
    statuses = []
    frames = list(src.frames(lambda message, **detail: statuses.append(message)))
    assert [f.id for f in frames] == list(range(len(frames)))           # no slot skipped
    real = [f for f in frames if f.image is not None]
    lost = [f for f in frames if f.image is None]
    assert len(real) == 30
    assert all(f.fault == "source_lost" for f in lost)
    assert 20 <= len(lost) <= 45                                         # ~0.3 s of a 100 fps camera
    assert statuses == ["source_lost", "source_reconnected"]
    assert all(a.t_capture <= b.t_capture for a, b in zip(frames, frames[1:]))


def test_gives_up_when_told_to() -> None:
    cam = SyntheticCamera(frames=5, outages={2: 60.0})
    src = CaptureSource(cam.open, "synthetic camera", live=True, backoff=Backoff(0.01, 0.02, give_up_after_s=0.1))
    statuses = []
    frames = list(src.frames(lambda message, **detail: statuses.append(message)))
    assert sum(f.image is not None for f in frames) == 2
    assert all(f.fault == "source_lost" for f in frames[2:]) and len(frames) > 2
    assert statuses[-1] == "source_gave_up"


def test_image_folder_in_name_order_with_unreadable_files_as_faults(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "b.png"), synth_frame(True))
    cv2.imwrite(str(tmp_path / "a.png"), synth_frame(False))
    (tmp_path / "c.png").write_bytes(b"not an image")
    src = open_source(source=str(tmp_path))
    frames = list(src.frames())
    assert [f.image is not None for f in frames] == [True, True, False]
    assert frames[2].fault == "unreadable"


def test_opening_errors_name_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        open_source(source=str(tmp_path / "missing.avi"))
    with pytest.raises(SourceError, match="cannot open camera 97"):
        open_source(camera=97)
    with pytest.raises(SourceError, match="no images"):
        open_source(source=str(tmp_path))
    with pytest.raises(SourceError, match="exactly one"):
        open_source()


def test_read_and_reopen_errors_go_through_reconnect() -> None:
    """A driver that raises is a camera that failed to deliver: source_lost frames, then back."""
    cam = SyntheticCamera(frames=12, fps=100.0)
    opens = []

    def opener():
        opens.append(None)
        if len(opens) in (2, 3):
            raise OSError("device busy")
        handle = cam.open()
        read = handle.read

        def read_or_raise():
            if len(opens) == 1 and cam.produced == 5:
                raise RuntimeError("driver fault")
            return read()

        handle.read = read_or_raise
        return handle

    src = CaptureSource(opener, "raising camera", live=True, fps=100.0, backoff=Backoff(initial_s=0.02, max_s=0.05))
    cam.on_exhausted = src.stop
    statuses = []
    frames = list(src.frames(lambda message, **detail: statuses.append(message)))
    assert [f.id for f in frames] == list(range(len(frames)))
    assert sum(f.image is not None for f in frames) == 12
    assert all(f.fault == "source_lost" for f in frames if f.image is None) and len(frames) > 12
    assert statuses == ["source_error", "source_lost", "source_error", "source_error", "source_reconnected"]


def test_a_folder_frame_carries_its_file_and_recursive_takes_subfolders(tmp_path: Path) -> None:
    for rel in ("normal/a.png", "defective/b.png", "defective/deeper/c.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / rel), synth_frame(False))
    frames = list(open_source(source=str(tmp_path), recursive=True).frames())
    assert [f.file for f in frames] == ["defective/b.png", "defective/deeper/c.png", "normal/a.png"]
    assert [f.id for f in frames] == [0, 1, 2]
    flat = list(open_source(source=str(tmp_path / "normal")).frames())
    assert [f.file for f in flat] == ["a.png"]
    with pytest.raises(SourceError, match="--recursive looks in subfolders"):
        open_source(source=str(tmp_path))
    with pytest.raises(SourceError, match="--recursive applies to an image folder only"):
        open_source(camera=0, recursive=True)


@pytest.mark.parametrize("given, shown", [
    ("rtsp://admin:s3cret@10.0.0.5:554/live?x=1", "rtsp://***@10.0.0.5:554/live?x=1"),
    ("rtsp://admin:p@ss@cam/live", "rtsp://***@cam/live"),      # a password holding "@"
    ("rtspsrc location=rtsps://u:pw@cam/a ! decodebin ! appsink", "rtspsrc location=rtsps://***@cam/a ! decodebin ! appsink"),
    ("rtsp://cam/live", "rtsp://cam/live"),
    ("videos/a@b.mp4", "videos/a@b.mp4"),
])
def test_a_source_s_login_is_never_shown(given: str, shown: str) -> None:
    assert without_credentials(given) == shown


def test_a_stream_is_named_and_refused_without_its_login(monkeypatch: pytest.MonkeyPatch) -> None:
    import edge.sources

    monkeypatch.setattr(edge.sources, "_capture_opener", lambda target, api: lambda: _Closed())
    with pytest.raises(SourceError) as caught:
        open_source(source="rtsp://admin:s3cret@10.0.0.5/live")
    assert "s3cret" not in str(caught.value) and "admin" not in str(caught.value) and "rtsp://***@10.0.0.5/live" in str(caught.value)
    with pytest.raises(SourceError) as caught:
        open_source(source="rtspsrc location=rtsp://admin:s3cret@10.0.0.5/live ! appsink")
    assert "s3cret" not in str(caught.value)


class _Closed:
    """A capture that never opens (a camera that refuses the connection)."""

    def isOpened(self) -> bool:
        return False

    def release(self) -> None:
        """Nothing to release."""
