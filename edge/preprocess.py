"""Frame preprocessing shared by training data and the camera: resize only.

The exported graph takes uint8 frames and normalises inside, so resizing is the only work done
outside it. Training reads images through this same function, so the pixels the model learnt from
are interpolated exactly like the pixels the camera sends.
"""

from __future__ import annotations

import numpy as np


def resize_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to ``width`` x ``height`` (stretching, no crop).

    INTER_AREA when shrinking (it averages, so no aliasing on fine scratches), INTER_LINEAR when
    enlarging (INTER_AREA degenerates to nearest there). A frame already at size is returned as is.
    """
    import cv2

    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    shrinking = width * height < w * h
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
