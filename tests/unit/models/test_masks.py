"""Masks at a map's resolution: area for the localization map, any-pixel cells for stride 32."""

from __future__ import annotations

import torch

from gain_mtl.models.masks import cell_mask, resize_mask


def _blowhole() -> torch.Tensor:
    """A 224 px mask with a 4x4 defect: 1.6 % of the 32x32 cell that holds it."""
    mask = torch.zeros(1, 1, 224, 224)
    mask[..., 40:44, 100:104] = 1.0
    return mask


def test_a_small_defect_is_a_whole_cell_at_stride_32():
    cells = cell_mask(_blowhole(), (7, 7))
    assert cells[0, 0, 1, 3] == 1.0 and cells.sum() == 1.0  # its cell, and only its cell
    assert resize_mask(_blowhole(), (7, 7))[0, 0, 1, 3] == 16 / 1024  # what area averaging gave


def test_the_localization_map_keeps_area_coverage_and_both_keep_binary_masks_when_enlarging():
    half = resize_mask(_blowhole(), (112, 112))
    assert half.sum() == 4.0 and set(half.unique().tolist()) == {0.0, 1.0}
    small = torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]])
    for resize in (resize_mask, cell_mask):
        big = resize(small, (4, 4))
        assert big.sum() == 4.0 and set(big.unique().tolist()) == {0.0, 1.0}


def test_a_size_that_shrinks_one_way_and_grows_the_other_keeps_the_defect():
    mask = torch.zeros(1, 1, 64, 4)
    mask[..., 10, 1] = 1.0  # one pixel
    cells = cell_mask(mask, (2, 8))
    assert cells[0, 0, 0].tolist() == [0, 0, 1, 1, 0, 0, 0, 0] and cells[0, 0, 1].sum() == 0
