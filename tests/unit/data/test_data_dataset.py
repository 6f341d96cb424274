"""DefectDataset items per the contract, has_mask handling, default collate, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from gain_mtl.config import AugmentConfig
from gain_mtl.data.dataset import DefectDataset
from gain_mtl.data.layout import DataError, Sample, scan_dataset
from gain_mtl.data.transforms import build_train_transform

from tests.unit.data.datafiles import write_image


def test_items_follow_the_contract(make_dataset):
    samples = scan_dataset(make_dataset(unmasked=(0,)))
    dataset = DefectDataset(samples, image_size=8)
    for index, sample in enumerate(samples):
        item = dataset[index]
        assert item["image"].shape == (3, 8, 8) and item["image"].dtype == torch.float32
        assert item["mask"].shape == (1, 8, 8) and item["mask"].dtype == torch.float32
        assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
        assert item["label"].dtype == torch.int64 and item["label"].item() == sample.label
        assert item["has_mask"].dtype == torch.bool and item["has_mask"].item() == sample.has_mask
        assert item["index"] == index
        if not sample.has_mask:  # normal, or defective without annotation: zero mask
            assert item["mask"].sum() == 0
        else:
            assert item["mask"].sum() > 0


def test_default_collate_batches_items(make_dataset):
    dataset = DefectDataset(scan_dataset(make_dataset()), image_size=8,
                            transform=build_train_transform(AugmentConfig()))
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch["image"].shape == (4, 3, 8, 8) and batch["mask"].shape == (4, 1, 8, 8)
    assert batch["label"].shape == (4,) and batch["has_mask"].dtype == torch.bool
    assert batch["index"].tolist() == [0, 1, 2, 3]


def test_mask_stays_on_the_defect_through_augmentation(tmp_path):
    """A bright square and its mask, through the full training transform, stay together."""
    image = np.full((32, 32, 3), 30, np.uint8)
    image[4:10, 20:28] = 230
    mask = np.zeros((32, 32), np.uint8)
    mask[4:10, 20:28] = 255
    sample = Sample(image=write_image(tmp_path / "p.png", image), label=1, split="train",
                    mask=write_image(tmp_path / "m.png", mask))
    # Blur and JPEG smear a square of a few pixels by design; their masks are tested on their own.
    aug = AugmentConfig(hflip=0.5, vflip=0.5, rot90=0.5, color_jitter=0.0, gaussian_noise=1.0,
                        jpeg=0.0, blur=0.0, gamma=0.0, exposure=0.0, shift=0.0,
                        translate=0.0)
    dataset = DefectDataset([sample], image_size=16, transform=build_train_transform(aug))
    for seed in range(12):
        torch.manual_seed(seed)
        item = dataset[0]
        brightness = item["image"].mean(0)
        marked = item["mask"][0] > 0
        assert marked.sum() == 12  # 6x8 at 32 -> 3x4 at 16
        assert brightness[marked].min() > brightness[~marked].max()


def test_mask_of_another_size_fails_naming_the_file(tmp_path):
    sample = Sample(image=write_image(tmp_path / "p.png", np.zeros((20, 20), np.uint8)), label=1,
                    split="train", mask=write_image(tmp_path / "p_mask.png", np.zeros((10, 20), np.uint8)))
    with pytest.raises(DataError, match=f"{sample.mask}: mask is 20x10 but its image"):
        DefectDataset([sample], image_size=8)[0]
