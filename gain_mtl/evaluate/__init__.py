"""Evaluation: pure-numpy metrics, predictions from a model, threshold choice, overlays, reports."""
