"""Reading images and masks: 3 channels RGB, binary masks, the stretch policy, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from gain_mtl.data.io import read_image, read_mask, read_pair
from gain_mtl.data.layout import DataError

from tests.unit.data.datafiles import write_image


def test_grayscale_becomes_three_channels_and_bgr_becomes_rgb(tmp_path):
    gray = write_image(tmp_path / "g.png", np.full((10, 12), 77, np.uint8))
    image = read_image(gray, None)
    assert image.shape == (10, 12, 3) and image.dtype == np.uint8 and (image == 77).all()
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    assert read_image(write_image(tmp_path / "b.png", bgr), None)[0, 0].tolist() == [0, 0, 200]


def test_masks_are_binarised_above_127(tmp_path):
    mask = np.array([[0, 127, 128, 255]], np.uint8).repeat(4, axis=0)
    out = read_mask(write_image(tmp_path / "m.png", mask), None)
    assert out.dtype == np.uint8 and out[0].tolist() == [0, 0, 1, 1]


def test_non_square_sources_are_stretched_with_aligned_masks(tmp_path):
    # A 40x20 (w x h) image whose right half is bright; its mask marks the same half.
    image = np.zeros((20, 40), np.uint8)
    image[:, 20:] = 255
    mask = (image > 0).astype(np.uint8) * 255
    img, msk = read_pair(write_image(tmp_path / "i.png", image), write_image(tmp_path / "i_m.png", mask), 16)
    assert img.shape == (16, 16, 3) and msk.shape == (16, 16)
    assert set(np.unique(msk).tolist()) == {0, 1}
    assert (msk[:, 8:] == 1).all() and (msk[:, :8] == 0).all()  # whole part kept: stretched, not cropped
    assert (img[:, 9:] > 200).all() and (img[:, :7] < 50).all()


def test_mask_size_differing_from_its_image_is_named(tmp_path):
    image = write_image(tmp_path / "part.png", np.zeros((20, 30), np.uint8))
    mask = write_image(tmp_path / "part_mask.png", np.zeros((20, 20), np.uint8))
    with pytest.raises(DataError) as info:
        read_pair(image, mask, 16)
    message = str(info.value)
    assert str(mask) in message and "20x20" in message and "30x20" in message
    assert "remake the mask at the image's size" in message


def test_empty_and_corrupt_images_are_named_with_the_fix(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=f"{empty}: empty file.*replace it with a valid image or remove it"):
        read_image(empty, 16)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(DataError, match=f"{corrupt}: not a decodable image.*replace it or remove it"):
        read_image(corrupt, 16)
    with pytest.raises(DataError, match="cannot read the file"):
        read_mask(tmp_path / "missing.png", 16)
