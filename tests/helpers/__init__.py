"""Builders shared by tests and benchmarks (small models and data, no torch)."""
