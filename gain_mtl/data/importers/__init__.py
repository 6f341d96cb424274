"""Converters from public dataset layouts to the design's layout (one module per source)."""
