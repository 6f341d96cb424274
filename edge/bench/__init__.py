"""Benchmarks a bundle on this device: latency, throughput, memory, accuracy and the live pipeline.

Lives in ``edge`` because a camera runs it: torch-free, heavy libraries imported where used.
"""

from edge.bench.compare import compare_reports
from edge.bench.render import write_outputs
from edge.bench.schema import SCHEMA_VERSION, BenchError, Report, Row, read_report
from edge.bench.suite import REFERENCE, BenchSettings, ReferenceBackend, run_bench

__all__ = ["REFERENCE", "SCHEMA_VERSION", "BenchError", "BenchSettings", "ReferenceBackend", "Report", "Row",
           "compare_reports", "read_report", "run_bench", "write_outputs"]
