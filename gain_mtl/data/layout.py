"""The design's dataset layout: defined once in ``edge.layout`` (torch-free, read by the bench too)."""

from edge.layout import (CLASS_NAMES, DATASET_WHAT, IMAGE_SUFFIXES, LAYOUT_HELP, PARTS_COLUMNS, PARTS_FILE, SPLITS,
                         DataError, Problem, Sample, data_root_of, image_files, scan_dataset, scan_layout,
                         written_dataset)

__all__ = ["CLASS_NAMES", "DATASET_WHAT", "IMAGE_SUFFIXES", "LAYOUT_HELP", "PARTS_COLUMNS", "PARTS_FILE", "SPLITS",
           "DataError", "Problem", "Sample", "data_root_of", "image_files", "scan_dataset", "scan_layout",
           "written_dataset"]
