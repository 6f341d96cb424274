"""GPIO: pulse an output line for every frame that is not an accept (reject or fault).

A fault is treated like a reject at the pin (fail-safe: the line diverts what was not inspected).
Backends: libgpiod's Python binding (``gpio:gpiochip0:17``; v2 API, with the v1 API as fallback)
or Jetson.GPIO (``gpio:jetson:PIN``, BOARD numbering). ``:dry-run`` logs the pulses to stderr
instead of touching hardware. The pulse is released by a timer, so the output thread never sleeps.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Optional

from edge.events import ACCEPT, Event
from edge.sinks.base import FrameContext, Sink, SinkError


class GPIOSink(Sink):
    def __init__(self, chip: str, line: int, dry_run: bool = False, pulse_ms: float = 50.0) -> None:
        self.chip, self.line, self.dry_run, self.pulse_s = chip, line, dry_run, pulse_ms / 1000.0
        self.name = f"gpio:{chip}:{line}{':dry-run' if dry_run else ''}"
        self.pulses = 0
        self._lock = threading.Lock()
        self._timer: Optional[threading.Timer] = None
        self._set, self._release = (self._dry_set, lambda: None) if dry_run else self._open_hardware()
        self._set(False)

    def _dry_set(self, active: bool) -> None:
        if active:
            print(f"gpio dry-run: {self.chip}:{self.line} pulse {self.pulse_s * 1000:.0f} ms", file=sys.stderr)

    def _open_hardware(self) -> tuple[Callable[[bool], None], Callable[[], None]]:
        if self.chip == "jetson":
            try:
                import Jetson.GPIO as GPIO
            except ImportError as exc:
                raise SinkError("Jetson.GPIO is not installed (it comes with JetPack: pip install Jetson.GPIO), "
                                "or use gpio:CHIP:LINE:dry-run") from exc
            GPIO.setmode(GPIO.BOARD)
            GPIO.setup(self.line, GPIO.OUT, initial=GPIO.LOW)
            return (lambda on: GPIO.output(self.line, GPIO.HIGH if on else GPIO.LOW)), (lambda: GPIO.cleanup(self.line))
        try:
            import gpiod
        except ImportError as exc:
            raise SinkError("gpiod is not installed: pip install gpiod (libgpiod's binding), or use gpio:CHIP:LINE:dry-run") from exc
        path = self.chip if self.chip.startswith("/") else f"/dev/{self.chip}"
        try:
            if hasattr(gpiod, "request_lines"):  # libgpiod v2
                from gpiod.line import Direction, Value

                request = gpiod.request_lines(path, consumer="gainctl", config={
                    self.line: gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE)})
                return (lambda on: request.set_value(self.line, Value.ACTIVE if on else Value.INACTIVE)), request.release
            line: Any = gpiod.Chip(path).get_line(self.line)  # libgpiod v1
            line.request(consumer="gainctl", type=gpiod.LINE_REQ_DIR_OUT, default_vals=[0])
            return (lambda on: line.set_value(1 if on else 0)), line.release
        except (OSError, ValueError) as exc:
            raise SinkError(f"gpio {path} line {self.line}: cannot request it as an output ({exc})") from exc

    def send(self, event: Event, context: Optional[FrameContext] = None) -> None:
        if event.kind != "decision" or event.decision == ACCEPT:
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()  # back-to-back rejects: one longer pulse
            self._set(True)
            self.pulses += 1
            self._timer = threading.Timer(self.pulse_s, self._end_pulse)
            self._timer.daemon = True
            self._timer.start()

    def _end_pulse(self) -> None:
        """Runs in a timer's thread; only the newest timer ends the pulse.

        An older timer that fired while ``send`` was replacing it (too late for ``cancel``) would
        otherwise cut the newer reject's pulse short.
        """
        with self._lock:
            if threading.current_thread() is not self._timer:
                return
            self._set(False)
            self._timer = None

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._set(False)
        self._release()
