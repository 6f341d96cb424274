"""The line's side of the monitor: the pixels it keeps and a feed that never makes the line wait."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from edge.events import Event
from edge.monitor import feed as feed_module
from edge.monitor.feed import MonitorFeed, MonitorGone, PixelKeeper
from edge.sinks.base import FrameContext


def decision(frame: int, kind: str, station: str | None = None) -> Event:
    return Event(kind="decision", frame=frame, decision=kind, score=0.5, threshold=0.5, latency_ms=1.0, station=station)


def pixels(level: int = 0) -> FrameContext:
    return FrameContext(np.full((4, 4, 3), level, np.uint8), None)


def test_the_keeper_holds_the_newest_frame_and_the_last_rejects_per_station() -> None:
    keeper = PixelKeeper(rejects=3)
    assert keeper.latest(0) is None
    assert not keeper.keep(decision(0, "fault"), FrameContext(None, None))  # no pixels, nothing kept
    for i in range(5):
        assert keeper.keep(decision(i, "reject", "top"), pixels(i))
    keeper.keep(decision(0, "reject", "side"), pixels(99))
    number, (event, _) = keeper.latest(0)
    assert (event.station, event.frame) == ("side", 0)
    assert keeper.latest(number) is None  # nothing newer than what was drawn
    assert keeper.reject("top", 1) is None  # out of the last 3
    assert [keeper.reject("top", i) is not None for i in (3, 4)] == [True, True]
    assert int(keeper.reject("side", 0)[1].image[0, 0, 0]) == 99  # frame 0 of "side", not of "top"


def test_a_reader_that_does_not_read_never_makes_the_line_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed_module, "BACKLOG_LIMIT", 1 << 16)
    ours, theirs = socket.socketpair()
    feed = MonitorFeed(ours, PixelKeeper())
    began, sent = time.monotonic(), 0
    while not feed.dropped and sent < 200_000:  # the kernel's buffer first, then the feed's own, then dropped
        feed.send(decision(sent, "accept"))
        sent += 1
    assert time.monotonic() - began < 10.0
    assert feed.dropped == 1 and feed.sent == sent - 1
    assert "not passed to the monitor" in feed.behind() and feed.behind() is None  # said once, until more are lost
    with pytest.raises(MonitorGone, match="in time"):
        feed.sync(0.2)
    # What was passed arrives whole and in order: every line a complete event.
    theirs.setblocking(False)
    received = b""
    while True:
        try:
            chunk = theirs.recv(1 << 16)
        except BlockingIOError:
            break
        received += chunk
    frames = [Event.from_json(line[1:].decode()).frame for line in received.split(b"\n")[:-1] if line[:1] == b"E"]
    assert frames == list(range(len(frames))) and len(frames) > 0
    theirs.close()
    feed.send(decision(sent, "accept"))  # the reader has gone: counted, not raised
    assert feed.gone is not None and feed.dropped > 1
    ours.close()
