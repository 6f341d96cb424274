"""Decoded-image cache: every image and mask of a run decoded and resized once, kept as uint8.

Decoding a 1130x460 PNG and resizing it costs more than the augmentation that follows, and a run
repeats it every epoch; with the cache an epoch costs augmentation and compute only.

- **In memory** when the decoded set fits :func:`memory_budget`: one contiguous uint8 array for the
  images (N, S, S, 3) and one for the masks (N, S, S), filled before the DataLoader starts its
  workers. Workers are forked, so they read the parent's pages copy-on-write and never copy them
  (nothing writes to the arrays; the transforms build new tensors).
- **On disk** otherwise: one uint8 ``.npy`` per file and size under :func:`default_cache_dir` (the
  XDG cache, never the current directory), named by the sha256 of the file's bytes, the size and
  ``CACHE_VERSION``. A changed file gets a new name, so a stale entry is never read, and later runs
  on the same data skip the decoding. The folder may be deleted at any time.
- **Trimmed** to a size once a run has filled its caches (:func:`trim_disk_cache`, called by the
  training loaders with every entry the run uses): filling marks a run's entries as used
  (modification time now); then entries of an older ``CACHE_VERSION`` (never read again) and the
  entries other runs used longest ago are deleted until the folder fits. Without it every dataset
  and image size ever trained would stay on the disk for good. Only files named as this module
  names them are touched; a run whose entry another run trimmed away decodes it again.

Decoding is :func:`gain_mtl.data.io.read_pair`, the one rule the uncached path and evaluation use,
so cached pixels are identical to uncached ones.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from gain_mtl.data.io import read_pair
from gain_mtl.data.layout import Sample

# Bump when read_pair's decoding or resizing changes: older disk entries are then never read.
CACHE_VERSION = 1
# Share of the memory available at start that an in-memory cache may take; the rest is the
# model's, the optimizer's and the workers'.
MEMORY_SHARE = 0.25
# What _entry names: the only files trim_disk_cache may delete.
ENTRY_NAME = re.compile(r"v(\d+)-[0-9a-f]{64}-(image|mask)\d+\.npy")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gain-mtl/decoded`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gain-mtl" / "decoded"


def memory_budget() -> int:
    """Bytes an in-memory cache may use: ``MEMORY_SHARE`` of the memory available now (Linux's
    MemAvailable, which counts reclaimable page cache; 0 where it cannot be read, so the cache
    goes to disk rather than risk the machine's memory)."""
    try:
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return 0
    return int(kib * 1024 * MEMORY_SHARE)


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes: the cache key does not trust names or modification times."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def trim_disk_cache(cache_dir: Path, keep: set[Path], limit: int) -> list[Path]:
    """Delete cache entries in ``cache_dir`` until they total at most ``limit`` bytes; returns
    what was deleted. Entries of an older ``CACHE_VERSION`` go first, then the least recently used
    (oldest modification time: a run marks its entries when it fills its cache); ``keep`` (the
    running run's entries) is never deleted, even when it alone exceeds the limit. Files not named
    like an entry are neither counted nor touched, and one that cannot be deleted (another user's,
    a read-only disk) is skipped."""
    entries = []
    for path in cache_dir.iterdir():
        match = ENTRY_NAME.fullmatch(path.name)
        if match is None:
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:  # another run trimmed it meanwhile
            continue
        entries.append((int(match.group(1)) >= CACHE_VERSION, stat.st_mtime, stat.st_size, path))
    total = sum(size for _, _, size, _ in entries)
    deleted = []
    for _, _, size, path in sorted(entries, key=lambda e: (e[0], e[1])):
        if total <= limit:
            break
        if path in keep:
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError:
            continue
        total -= size
        deleted.append(path)
    return deleted


class DecodedCache:
    """The decoded, resized uint8 image and mask of every sample, by position in ``samples``.

    ``budget`` (bytes, default :func:`memory_budget`) decides memory or disk; ``cache_dir``
    (default :func:`default_cache_dir`) is where the disk entries go (``in_use`` lists them for
    :func:`trim_disk_cache`). Everything is decoded in the
    constructor, with ``threads`` threads (OpenCV releases the GIL), so a DataLoader built after it
    forks workers that share the result.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        size: int,
        *,
        budget: int | None = None,
        cache_dir: str | Path | None = None,
        threads: int = 1,
    ) -> None:
        started = time.perf_counter()
        self.samples = list(samples)
        self.size = size
        self.nbytes = len(self.samples) * size * size * 4  # 3 image bytes and 1 mask byte per pixel
        self.in_memory = self.nbytes <= (memory_budget() if budget is None else budget)
        self.cache_dir = None if self.in_memory else Path(cache_dir or default_cache_dir())
        with ThreadPoolExecutor(max_workers=threads) as pool:
            if self.in_memory:
                self.images = np.empty((len(self.samples), size, size, 3), np.uint8)
                self.masks = np.zeros((len(self.samples), size, size), np.uint8)
                list(pool.map(self._fill_memory, range(len(self.samples))))
            else:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                self.entries = list(pool.map(self._fill_disk, self.samples))
        self.fill_seconds = time.perf_counter() - started

    def _fill_memory(self, index: int) -> None:
        sample = self.samples[index]
        image, mask = read_pair(sample.image, sample.mask, self.size)
        self.images[index] = image
        if mask is not None:
            self.masks[index] = mask

    def _entry(self, path: Path, kind: str) -> Path:
        return self.cache_dir / f"v{CACHE_VERSION}-{file_digest(path)}-{kind}{self.size}.npy"

    def in_use(self) -> set[Path]:
        """The disk entries this cache reads (none in memory): what a trim must keep."""
        if self.in_memory:
            return set()
        return {entry for pair in self.entries for entry in pair if entry is not None}

    def _fill_disk(self, sample: Sample) -> tuple[Path, Path | None]:
        """The sample's entries, decoded and written unless an earlier run left them; those it
        finds are marked as used now, so trimming deletes other runs' entries first."""
        image_entry = self._entry(sample.image, "image")
        mask_entry = None if sample.mask is None else self._entry(sample.mask, "mask")
        try:
            for entry in (image_entry, mask_entry):
                if entry is not None:
                    os.utime(entry)
        except FileNotFoundError:
            self._write_disk(sample, image_entry, mask_entry)
        except OSError:  # readable but not ours to mark (another user's, a read-only disk)
            pass
        return image_entry, mask_entry

    def _write_disk(self, sample: Sample, image_entry: Path, mask_entry: Path | None) -> None:
        from edge.atomic import atomic_write_bytes

        image, mask = read_pair(sample.image, sample.mask, self.size)
        for entry, array in ((image_entry, image), (mask_entry, mask)):
            if entry is not None:
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                atomic_write_bytes(entry, buffer.getvalue())

    def __len__(self) -> int:
        return len(self.samples)

    def get(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """uint8 image (S, S, 3) and mask (S, S) in {0, 1}, or None for a sample without a mask.
        In memory these are views of the shared arrays: read them, never write to them."""
        if self.in_memory:
            return self.images[index], None if self.samples[index].mask is None else self.masks[index]
        image_entry, mask_entry = self.entries[index]
        try:
            image = np.load(image_entry, allow_pickle=False)
            mask = None if mask_entry is None else np.load(mask_entry, allow_pickle=False)
        except FileNotFoundError:  # another run's trim (or a person) deleted it: decode again
            self._write_disk(self.samples[index], image_entry, mask_entry)
            return self.get(index)
        return image, mask

    def summary(self) -> str:
        """One log line: how many, where, how big, how long the fill took."""
        where = "memory" if self.in_memory else str(self.cache_dir)
        return (f"cache: {len(self)} images decoded at {self.size} px into {where} "
                f"({self.nbytes / 2**20:.0f} MiB) in {self.fill_seconds:.1f} s")
