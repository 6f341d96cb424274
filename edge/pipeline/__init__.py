"""The inspection loop: capture -> intake -> resize -> async inference -> decision -> sinks.

Split into its parts (roboflow's InferencePipeline shape):

- ``station``: one source's capture and its ordered output (decide, count, dispatch);
- ``intake``: the hand-off from capture to inference, with each mode's queueing policy;
- ``scheduler``: one thread that resizes and submits to the runner;
- ``watchdog``: jobs in flight, and when the runner is given up on;
- ``dispatch``: events to the sinks, failing or lagging sinks reported, status handlers;
- ``stats``: the run's counts and latency sample;
- ``line``: the threads of a line of stations; ``Pipeline`` is a line of one source.

Every frame that enters becomes a ``Pending`` that its station's output resolves exactly once:
with the model's verdict, or with a fault (source lost, overflow, timeout, error); a fault is
never an accept. In ``every-frame`` mode each frame gets exactly one decision, in order within its
station; a live source that outruns inference waits briefly (backpressure) and then turns the
frame into an ``overflow`` fault rather than dropping it. In ``latest`` mode only the newest
frame of a station waits; replaced frames are counted as dropped and get no decision.
"""

from edge.pipeline.dispatch import Dispatcher, StatusHandler, console
from edge.pipeline.line import Line, Pipeline
from edge.pipeline.station import MODES, StationSpec
from edge.pipeline.stats import LATENCY_SAMPLE_SIZE, LatencySample, Summary
from edge.pipeline.watchdog import INFERENCE_TIMEOUT_S, RunnerUnresponsive

__all__ = ["Dispatcher", "INFERENCE_TIMEOUT_S", "LATENCY_SAMPLE_SIZE", "LatencySample", "Line", "MODES", "Pipeline",
           "RunnerUnresponsive", "StationSpec", "StatusHandler", "Summary", "console"]
