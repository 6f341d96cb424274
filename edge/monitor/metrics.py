"""``/metrics``: the line in Prometheus text format, read from the monitor's state at scrape time.

A custom collector rather than prometheus_client's own counters: the monitor already counts in
``MonitorState.note``, so a scrape reads those numbers and nobody pays per metric. What only the
line's process knows (its queue depth, its sinks' backlog) is asked of it at scrape time.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from edge.monitor.state import LATENCY_BUCKETS_S, MonitorState

PREFIX = "gainctl"


class LineCollector:
    """Decisions, faults, frame-to-decision latency, queue depth, sink backlog, model, health and pictures drawn.

    ``gauges()`` asks the line's process for ``queue_depth`` and ``backlog``: (sink, station,
    events) for each sink that queues, the station empty for the line's own sinks, so two stations
    publishing to the same broker and topic are two series, not one scrape with a duplicate sample.
    ``drawn()`` is the JPEGs the monitor made, by kind: what watching costs.
    """

    def __init__(self, state: MonitorState, info: Dict[str, str], threshold: float,
                 gauges: Callable[[], Dict[str, Any]], drawn: Callable[[], Dict[str, int]]) -> None:
        self.state, self.info, self.threshold, self.gauges, self.drawn = state, info, threshold, gauges, drawn

    def collect(self) -> Iterator[Metric]:
        counts = self.state.counts()
        decisions = CounterMetricFamily(f"{PREFIX}_decisions", "Decisions made, by kind (accept, reject, fault).",
                                        labels=["decision"])
        for kind, n in sorted(counts.decisions.items()):
            decisions.add_metric([kind], n)
        yield decisions
        faults = CounterMetricFamily(f"{PREFIX}_faults", "Fault decisions, by reason.", labels=["reason"])
        for reason, n in sorted(counts.fault_reasons.items()):
            faults.add_metric([reason], n)
        yield faults
        cumulative, buckets = 0, []
        for bound, n in zip([*map(str, LATENCY_BUCKETS_S), "+Inf"], counts.latency_buckets):
            cumulative += n
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(f"{PREFIX}_frame_to_decision_seconds",
                                    "Capture to decision of inspected frames (accepts and rejects).",
                                    buckets=buckets, sum_value=counts.latency_sum_s)
        gauges = self.gauges()
        if "queue_depth" in gauges:  # absent once the line's process has gone
            yield GaugeMetricFamily(f"{PREFIX}_queue_depth", "Frames captured and waiting for their decision.",
                                    value=gauges["queue_depth"])
        backlog = GaugeMetricFamily(f"{PREFIX}_sink_backlog_events",
                                    "Events a sink accepted and has not delivered yet (e.g. spooled while a broker is away).",
                                    labels=["sink", "station"])
        for sink, station, pending in gauges.get("backlog", ()):
            backlog.add_metric([sink, station], pending)
        yield backlog
        drawn = CounterMetricFamily(f"{PREFIX}_monitor_pictures_drawn", "JPEGs the monitor drew, by kind (live, thumb, "
                                    "overlay, frame): each is one frame passed from the line's process.", labels=["kind"])
        for kind, n in sorted(self.drawn().items()):
            drawn.add_metric([kind], n)
        yield drawn
        yield InfoMetricFamily(f"{PREFIX}_model", "The bundle, backend and precision this run inspects with.",
                               value=self.info)
        yield GaugeMetricFamily(f"{PREFIX}_decision_threshold", "Scores at or above this are rejects.",
                                value=self.threshold)
        yield GaugeMetricFamily(f"{PREFIX}_healthy", "1 while frames flow (what /healthz answers 200 to), else 0.",
                                value=1.0 if self.state.health().ok else 0.0)


def line_registry(collector: LineCollector, line_pid: int) -> CollectorRegistry:
    """A registry of its own (not the process-wide default): the line's metrics and the line process's CPU and memory."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    ProcessCollector(registry=registry, pid=lambda: line_pid)
    return registry
