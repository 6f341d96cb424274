"""GAIN-MTL: an explainable defect classifier for inspection cameras, from training to the edge.

Importing this package is cheap and torch-free: the CLI and the edge runtime rely on that.
"""

__version__ = "0.1.0"
