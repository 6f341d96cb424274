"""The bench scores a test split with the line's own decision rule: an invalid score is a fault, never an accept."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.bench import accuracy
from edge.bench.accuracy import scores
from edge.decision import accepts, decide, flagged
from edge.events import ACCEPT


def _split(labels: list[int]) -> accuracy.TestSplit:
    n = len(labels)
    return accuracy.TestSplit(np.zeros((n, 8, 8, 3), np.uint8), np.asarray(labels), [None] * n, [str(i) for i in range(n)],
                              [Path(f"{i}.png") for i in range(n)])


def test_invalid_scores_count_as_not_accepted_and_are_reported() -> None:
    prob = np.array([0.1, np.nan, 0.9, np.inf], dtype=np.float32)
    maps = np.zeros((4, 4, 4), np.float32)
    result = scores(prob, maps, _split([0, 0, 1, 1]), 0.5, 0.5, reference=np.array([False, False, True, True]),
                    reference_name="torch fp32")
    assert result["faults"] == 2
    assert result["recall"] == 1.0 and result["precision"] == 2 / 3
    assert result["agreement"] == 0.75  # the NaN on a normal part stops it, the reference accepted it
    assert flagged(prob, 0.5).tolist() == [False, True, True, True]


def test_accepts_is_decide_element_wise() -> None:
    attention, localization = np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 8, 8), np.float32)
    values = [0.0, 0.49, 0.5, 1.0, -0.1, 1.5, np.nan, np.inf, -np.inf]
    for value in values:
        outputs = {"defect_prob": np.array([value], np.float32), "attention_map": attention,
                   "localization_map": localization}
        verdict = decide(outputs, 0.5, (8, 8)).decision
        assert (verdict == ACCEPT) == bool(accepts(np.float32(value), 0.5)), value
    assert accepts(np.array(values, np.float32), 0.5).tolist() == [True, True] + [False] * 7
