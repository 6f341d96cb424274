"""The decoded-image cache: same pixels as decoding per item, in memory or on disk, keyed by content."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from gain_mtl.config import AugmentConfig
from gain_mtl.data import cache as cache_module
from gain_mtl.data.cache import DecodedCache, default_cache_dir
from gain_mtl.data.dataset import DefectDataset
from gain_mtl.data.layout import scan_dataset
from gain_mtl.data.transforms import build_train_transform

from tests.unit.data.datafiles import image_array, write_image

SIZE = 8


def _assert_same_items(cached: DefectDataset, plain: DefectDataset) -> None:
    for index in range(len(plain)):
        a, b = cached[index], plain[index]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
        assert a["has_mask"] == b["has_mask"]


@pytest.mark.parametrize("budget", [None, 0], ids=["memory", "disk"])
def test_cached_items_equal_decoded_ones(make_dataset, tmp_path, budget):
    samples = scan_dataset(make_dataset(unmasked=(0,)))  # normals, masked and unmasked defects
    cache = DecodedCache(samples, SIZE, budget=budget, cache_dir=tmp_path / "cache", threads=2)
    assert cache.in_memory is (budget is None)
    assert [m is None for _, m in map(cache.get, range(len(cache)))] == [s.mask is None for s in samples]
    _assert_same_items(DefectDataset(samples, SIZE, cache=cache), DefectDataset(samples, SIZE))


def test_disk_entries_are_keyed_by_content_and_size_and_reused(make_dataset, tmp_path, monkeypatch):
    samples = scan_dataset(make_dataset())
    where = tmp_path / "cache"
    DecodedCache(samples, SIZE, budget=0, cache_dir=where)
    entries = sorted(p.name for p in where.glob("*.npy"))
    assert len(entries) == len(samples) + 1  # the fixture's masks are one picture: one entry
    assert all(name.endswith((f"image{SIZE}.npy", f"mask{SIZE}.npy")) for name in entries)

    def no_decoding(*args):
        raise AssertionError("decoded although every entry was on disk")

    monkeypatch.setattr(cache_module, "read_pair", no_decoding)
    again = DecodedCache(samples, SIZE, budget=0, cache_dir=where)  # a second run: lookups only
    assert again.get(0)[0].shape == (SIZE, SIZE, 3)
    monkeypatch.undo()
    write_image(samples[0].image, image_array(999))  # same name, new content: a new entry
    DecodedCache(samples, SIZE, budget=0, cache_dir=where)
    assert len(list(where.glob("*.npy"))) == len(entries) + 1
    DecodedCache(samples, 2 * SIZE, budget=0, cache_dir=where)  # another size: its own entries
    assert len(list(where.glob(f"*{2 * SIZE}.npy"))) == len(entries)


def test_default_location_is_the_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "gain-mtl" / "decoded"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "gain-mtl" / "decoded"


def test_augmentation_still_runs_per_epoch_in_forked_workers(make_dataset):
    samples = scan_dataset(make_dataset())
    dataset = DefectDataset(samples, SIZE, transform=build_train_transform(AugmentConfig()),
                            cache=DecodedCache(samples, SIZE))
    loader = DataLoader(dataset, batch_size=len(samples), num_workers=1, persistent_workers=True)
    torch.manual_seed(0)
    first, second = next(iter(loader)), next(iter(loader))
    assert first["index"].tolist() == second["index"].tolist()
    assert not torch.equal(first["image"], second["image"])  # another draw of the augmentation


def test_a_cache_of_other_samples_or_size_is_refused(make_dataset):
    samples = scan_dataset(make_dataset())
    with pytest.raises(ValueError, match="another size"):
        DefectDataset(samples, 2 * SIZE, cache=DecodedCache(samples, SIZE))
    with pytest.raises(ValueError, match="other samples"):
        DefectDataset(samples[1:], SIZE, cache=DecodedCache(samples, SIZE))


def _entry_names(where: Path) -> set[str]:
    return {p.name for p in where.glob("*.npy")}


def test_a_run_trims_other_runs_entries_to_the_limit_and_keeps_both_of_its_splits(
        tmp_path, monkeypatch, capsys):
    from gain_mtl.config import load_config
    from gain_mtl.data.synth import synthesize
    from gain_mtl.train.distributed import DistInfo
    from gain_mtl.train.loaders import make_loaders
    from gain_mtl.train.trainer import check_data

    root = synthesize(tmp_path / "data", n_normal=6, n_defective=6, size=32, seed=1)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cache_module, "memory_budget", lambda: 0)  # both splits go to disk
    where = default_cache_dir()
    config = load_config("tiny", ["data.image_size=32", "data.disk_cache_gib=0"])
    manifest = check_data(root, config)
    DecodedCache(manifest.train, 16, cache_dir=where, budget=0)  # an earlier run at another size
    older = _entry_names(where)
    newer = where / f"v{cache_module.CACHE_VERSION + 1}-{'0' * 64}-image32.npy"  # a newer checkout's
    newer.write_bytes(b"x")
    foreign = where / "notes.txt"  # not the cache's: never counted, never deleted
    foreign.write_text("mine")
    make_loaders(config, manifest, DistInfo(), torch.device("cpu"))
    assert f"disk cache: {len(older) + 1} entries of other runs trimmed" in capsys.readouterr().out
    assert foreign.read_text() == "mine"
    used = {p.name for part in (manifest.train, manifest.val)
            for p in DecodedCache(part, 32, cache_dir=where, budget=0).in_use()}
    assert _entry_names(where) == used and len(used) > len(manifest.val)


def test_trimming_deletes_older_versions_then_the_least_recently_used(tmp_path):
    version = cache_module.CACHE_VERSION
    names = [f"v{version}-{str(i) * 64}-image8.npy" for i in range(4)]
    names.append(f"v{version - 1}-{'7' * 64}-image8.npy")  # an older version, used just now
    names.append(f"v{version + 1}-{'8' * 64}-image8.npy")  # a newer checkout's, used longest ago
    ages = [0, 1, 2, 3, -1, 9]  # names[0] used last of this version, names[3] longest ago
    for age, name in zip(ages, names):
        path = tmp_path / name
        path.write_bytes(b"1234")
        os.utime(path, (1000 - age, 1000 - age))
    keep = {tmp_path / names[3]}
    deleted = cache_module.trim_disk_cache(tmp_path, keep, limit=12)
    # The older version first, then the oldest not kept (the newer checkout's), then names[2].
    assert [p.name for p in deleted] == [names[4], names[5], names[2]]
    assert _entry_names(tmp_path) == {names[0], names[1], names[3]}


def test_an_entry_trimmed_by_another_run_is_decoded_again(make_dataset, tmp_path):
    samples = scan_dataset(make_dataset())
    cache = DecodedCache(samples, SIZE, budget=0, cache_dir=tmp_path / "cache")
    masked = next(i for i, s in enumerate(samples) if s.mask is not None)
    expected = [cache.get(i) for i in (0, masked)]
    for path in (tmp_path / "cache").glob("*.npy"):
        path.unlink()
    for index, (image, mask) in zip((0, masked), expected):
        again = cache.get(index)
        assert (again[0] == image).all() and (mask is None or (again[1] == mask).all())
    cache.entries[masked][1].unlink()  # the image's entry still there, its mask's gone
    again = DecodedCache(samples, SIZE, budget=0, cache_dir=tmp_path / "cache")  # a later run
    assert again.entries[masked][1].is_file()
    cache.entries[masked][1].unlink()
    assert (cache.get(masked)[1] == expected[1][1]).all()


@pytest.mark.parametrize("value", ["-1", "inf", "nan"])
def test_a_disk_limit_that_is_not_a_finite_size_is_refused(value):
    from gain_mtl.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="data.disk_cache_gib' must be a finite number of GiB"):
        load_config("tiny", [f"data.disk_cache_gib={value}"])
