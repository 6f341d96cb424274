"""history.csv: fixed columns, floats that read back exactly, truncation on resume."""

from __future__ import annotations

import pytest

from gain_mtl.train.history import HistoryWriter, history_columns, read_history


def test_columns_follow_the_schedule_and_the_metrics():
    cols = history_columns(("cls", "am"), ("f1",))
    assert cols == ["epoch", "stage", "lr", "loss_total", "loss_cls", "w_cls", "loss_am", "w_am", "val_f1"]


def test_rows_round_trip_and_resume_drops_later_epochs(tmp_path):
    cols = history_columns(("cls",), ("auroc",))
    path = tmp_path / "history.csv"
    writer = HistoryWriter(path, cols)
    for epoch in (1, 2, 3):
        writer.append({"epoch": epoch, "stage": 1, "lr": 1e-4 / epoch, "loss_total": 0.1 * epoch + 1e-12,
                       "loss_cls": 1 / 3, "w_cls": 1.0, "val_auroc": None})
    rows = read_history(path)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[2]["loss_total"]) == 0.1 * 3 + 1e-12  # repr: exact
    assert rows[0]["val_auroc"] == ""
    resumed = HistoryWriter.resume(path, cols, up_to_epoch=2)
    resumed.append({**{c: 0.0 for c in cols}, "epoch": 3, "stage": 1})
    assert [int(r["epoch"]) for r in read_history(path)] == [1, 2, 3]
    with pytest.raises(KeyError, match="lacks"):
        resumed.append({"epoch": 4})
