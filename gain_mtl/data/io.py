"""Reading images and masks from disk, the same way for training, evaluation and checks.

Images come back as uint8 RGB (grayscale and alpha sources become 3 channels), masks as uint8
{0, 1} after binarising at > 127.

Non-square policy: a source of any shape is *stretched* to ``size x size`` with
:func:`edge.preprocess.resize_frame`, the very function the edge runtime applies to camera frames
(INTER_AREA when shrinking, INTER_LINEAR when enlarging). Stretching keeps the whole part in view
(a crop could cut a defect off) and keeps training pixels identical to deployment pixels; masks are
resized with nearest-neighbour so they stay binary and aligned with their image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.preprocess import resize_frame
from gain_mtl.data.layout import DataError

MASK_THRESHOLD = 127


def decode(path: str | Path, flags: int) -> np.ndarray:
    """Decode an image file with OpenCV; empty or undecodable files raise DataError naming the file.

    Reads bytes first (np.fromfile) so non-ASCII paths work and an empty file is told apart.
    """
    import cv2

    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc}); check that it exists and is readable") from None
    if data.size == 0:
        raise DataError(f"{path}: empty file (0 bytes); replace it with a valid image or remove it")
    image = cv2.imdecode(data, flags)
    if image is None:
        raise DataError(f"{path}: not a decodable image (corrupt or truncated); replace it or remove it")
    return image


def _resize_image(image: np.ndarray, size: int | None) -> np.ndarray:
    return image if size is None else resize_frame(image, size, size)


def _resize_mask(mask: np.ndarray, size: int | None) -> np.ndarray:
    import cv2

    if size is None or mask.shape == (size, size):
        return mask
    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)


def read_image(path: str | Path, size: int | None) -> np.ndarray:
    """uint8 RGB array (size, size, 3); ``size=None`` keeps the source resolution."""
    import cv2

    return _resize_image(cv2.cvtColor(decode(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), size)


def read_mask(path: str | Path, size: int | None) -> np.ndarray:
    """uint8 array (size, size) in {0, 1}: pixels > 127 are defect; nearest-neighbour resize."""
    import cv2

    return _resize_mask((decode(path, cv2.IMREAD_GRAYSCALE) > MASK_THRESHOLD).astype(np.uint8), size)


def read_pair(
    image_path: Path, mask_path: Path | None, size: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """An image and its mask, checked to have the same source size before both are resized."""
    image = read_image(image_path, None)
    if mask_path is None:
        return _resize_image(image, size), None
    mask = read_mask(mask_path, None)
    if mask.shape != image.shape[:2]:
        raise DataError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path} is "
            f"{image.shape[1]}x{image.shape[0]}; remake the mask at the image's size"
        )
    return _resize_image(image, size), _resize_mask(mask, size)


def write_image(path: str | Path, image: np.ndarray) -> None:
    """``cv2.imwrite`` that fails loudly: OpenCV returns False, without raising, when the folder is
    not writable, the disk is full or the suffix is no format it encodes; a dataset written on
    regardless would have holes that only show up as missing files later."""
    import cv2

    if not cv2.imwrite(str(path), image):
        raise DataError(
            f"{path}: OpenCV could not write this image; check that the folder is writable and the "
            "disk has space"
        )
