"""DataLoaders for training and validation, sized to the machine and the device.

Training always draws through a :class:`DistributedSampler` (one replica when not distributed) so
that one process and N processes see the same global batches: rank r's batch b is every N-th
sample of the one-process batch b. The sampler reshuffles from ``seed + epoch``, so an epoch's
order depends on nothing but the seed and the epoch number, and a resumed run repeats it exactly.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader, DistributedSampler

from gain_mtl.config import Config
from gain_mtl.data.split import SplitManifest
from gain_mtl.train.distributed import DistInfo

MAX_WORKERS = 8


def available_cores() -> int:
    """Cores this process may run on (its affinity where the OS tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_count(requested: int) -> int:
    """-1: one worker per core but one (kept for the training loop), at most ``MAX_WORKERS``."""
    if requested >= 0:
        return requested
    return max(0, min(MAX_WORKERS, available_cores() - 1))


def per_rank_batch(config: Config, info: DistInfo) -> int:
    """``train.batch_size`` is the global batch; each rank takes its share."""
    batch = config.train.batch_size
    if batch % info.world_size:
        raise ValueError(
            f"train.batch_size={batch} is the global batch and must divide by the {info.world_size} "
            "processes; choose a multiple of --nproc"
        )
    return batch // info.world_size


def make_loaders(
    config: Config, manifest: SplitManifest, info: DistInfo, device: torch.device, cache: bool = True
) -> tuple[DataLoader, DistributedSampler, DataLoader]:
    """(train loader, its sampler for ``set_epoch``, validation loader).

    ``cache``: decode every image once, here, before the loaders fork their workers
    (:mod:`gain_mtl.data.cache`); False decodes per item, every epoch.
    """
    from gain_mtl.data.cache import DecodedCache, trim_disk_cache
    from gain_mtl.data.dataset import DefectDataset
    from gain_mtl.data.transforms import build_eval_transform, build_train_transform, input_normalization

    size = config.data.image_size
    caches = {part: None for part in ("train", "val")}
    if cache:
        for part in caches:
            caches[part] = DecodedCache(getattr(manifest, part), size, threads=available_cores())
            if info.is_main:
                print(f"{part} {caches[part].summary()}", flush=True)
        on_disk = [c for c in caches.values() if not c.in_memory]
        if on_disk and info.is_main:  # once, after both fills: neither split's entries are trimmed
            keep = set().union(*(c.in_use() for c in on_disk))
            trimmed = trim_disk_cache(on_disk[0].cache_dir, keep, int(config.data.disk_cache_gib * 2**30))
            print(f"disk cache: {len(trimmed)} entries of other runs trimmed to stay under "
                  f"data.disk_cache_gib={config.data.disk_cache_gib:g}", flush=True)
    norm = input_normalization(config.model)
    train_set = DefectDataset(manifest.train, size, transform=build_train_transform(config.augment, norm, size),
                              cache=caches["train"])
    val_set = DefectDataset(manifest.val, size, transform=build_eval_transform(norm), cache=caches["val"])
    workers = worker_count(config.data.num_workers)
    pin = device.type == "cuda"
    common = {"num_workers": workers, "pin_memory": pin, "persistent_workers": workers > 0}
    sampler = DistributedSampler(
        train_set, num_replicas=info.world_size, rank=info.rank, shuffle=True,
        seed=config.train.seed, drop_last=False,
    )
    batch = per_rank_batch(config, info)
    # drop_last keeps BatchNorm away from a batch of one at the end of an epoch.
    drop_last = len(sampler) > batch
    train = DataLoader(train_set, batch_size=batch, sampler=sampler, drop_last=drop_last, **common)
    val = DataLoader(val_set, batch_size=config.train.batch_size, shuffle=False, **common)
    return train, sampler, val
