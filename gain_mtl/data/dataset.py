"""The torch Dataset over samples of the design's layout."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from gain_mtl.data.cache import DecodedCache
from gain_mtl.data.io import read_pair
from gain_mtl.data.layout import Sample
from gain_mtl.data.transforms import build_eval_transform


class DefectDataset(Dataset):
    """Items: ``image`` float32 (3,S,S) normalised, ``mask`` float32 (1,S,S) in {0,1} (zeros
    without a mask), ``label`` int64, ``has_mask`` bool, ``index`` (position in ``samples``).

    ``transform`` (from :mod:`gain_mtl.data.transforms`) gets ``{"image", "mask"}`` as tv_tensors
    and must normalise; None means the evaluation transform. ``has_mask`` tells the losses which
    zero masks are "no defect here" and which are "not annotated".

    ``cache`` (built over the same samples and size) replaces decoding with a lookup; the transform
    still runs per item, so augmentation stays random per epoch.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        image_size: int,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        cache: DecodedCache | None = None,
    ) -> None:
        self.samples = list(samples)
        self.image_size = image_size
        self.transform = transform or build_eval_transform()
        if cache is not None and (cache.samples != self.samples or cache.size != image_size):
            raise ValueError(f"the decoded cache holds other samples or another size ({cache.size}) than "
                             f"this dataset ({image_size}); build it from the same samples and size")
        self.cache = cache

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        if self.cache is None:
            image, mask = read_pair(sample.image, sample.mask, self.image_size)
        else:
            image, mask = self.cache.get(index)
        if mask is None:
            mask = np.zeros(image.shape[:2], dtype=np.uint8)
        out = self.transform({
            "image": tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1)),
            "mask": tv_tensors.Mask(torch.from_numpy(mask)[None]),
        })
        return {
            "image": out["image"].as_subclass(torch.Tensor).contiguous(),
            "mask": out["mask"].as_subclass(torch.Tensor).float().contiguous(),
            "label": torch.tensor(sample.label, dtype=torch.int64),
            "has_mask": torch.tensor(sample.has_mask),
            "index": index,
        }
