"""Datasets in the design's layout: scanning, splitting, reading, augmenting, making and importing.

Submodules are imported where used: ``layout``, ``split`` and ``check`` need no torch, so checking
a dataset stays light; ``transforms`` and ``dataset`` need torch and torchvision.
"""
