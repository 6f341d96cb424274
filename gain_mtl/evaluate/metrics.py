"""The evaluation's metrics are the edge's (``edge.metrics``), so every report counts alike."""

from edge.metrics import (LOC_THRESHOLD, MAP_THRESHOLD, auroc, cam_iou, classification_metrics, confusion,
                          decision_counts, decision_metrics, dice_from_iou, energy_inside, explanation_metrics, iou,
                          localization_metrics, minmax_normalise, pixel_accuracy, point_game)

__all__ = ["LOC_THRESHOLD", "MAP_THRESHOLD", "auroc", "cam_iou", "classification_metrics", "confusion",
           "decision_counts", "decision_metrics", "dice_from_iou", "energy_inside", "explanation_metrics", "iou",
           "localization_metrics", "minmax_normalise", "pixel_accuracy", "point_game"]
