"""``/metrics``: the line in Prometheus text format, read from the monitor's state at scrape time.

A custom collector rather than prometheus_client's own counters: the line already counts in
``MonitorState.send``, so a scrape reads those numbers and the line pays nothing per metric.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from edge.monitor.state import LATENCY_BUCKETS_S, MonitorState
from edge.sinks.base import Sink

PREFIX = "gainctl"


class LineCollector:
    """Decisions, faults, frame-to-decision latency, queue depth, sink backlog, model and health.

    ``sinks`` get every station's events; ``station_sinks`` are each station's own. The backlog
    names the station of each sink (empty for the line's), so two stations publishing to the same
    broker and topic are two series, not one scrape with a duplicate sample.
    """

    def __init__(self, state: MonitorState, info: Dict[str, str], threshold: float,
                 queue_depth: Callable[[], int], sinks: Sequence[Sink] = (),
                 station_sinks: Optional[Mapping[Optional[str], Sequence[Sink]]] = None) -> None:
        self.state, self.info, self.threshold, self.queue_depth = state, info, threshold, queue_depth
        self.sinks: List[Tuple[str, Sink]] = [("", sink) for sink in sinks] + [
            (station or "", sink) for station, own in (station_sinks or {}).items() for sink in own]

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
        yield GaugeMetricFamily(f"{PREFIX}_queue_depth", "Frames captured and waiting for their decision.",
                                value=self.queue_depth())
        backlog = GaugeMetricFamily(f"{PREFIX}_sink_backlog_events",
                                    "Events a sink accepted and has not delivered yet (e.g. spooled while a broker is away).",
                                    labels=["sink", "station"])
        for station, sink in self.sinks:
            pending: Optional[Callable[[], int]] = getattr(sink, "pending", None)  # the sinks that queue have it
            if callable(pending):
                backlog.add_metric([sink.name, station], pending())
        yield backlog
        yield InfoMetricFamily(f"{PREFIX}_model", "The bundle, backend and precision this run inspects with.",
                               value=self.info)
        yield GaugeMetricFamily(f"{PREFIX}_decision_threshold", "Scores at or above this are rejects.",
                                value=self.threshold)
        yield GaugeMetricFamily(f"{PREFIX}_healthy", "1 while frames flow (what /healthz answers 200 to), else 0.",
                                value=1.0 if self.state.health().ok else 0.0)


def line_registry(collector: LineCollector) -> CollectorRegistry:
    """A registry of its own (not the process-wide default): the line's metrics and this process's CPU and memory."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry
