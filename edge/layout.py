"""The design's dataset layout on disk, and the samples read from it.

```
ROOT/images/{train,test}/{normal,defective}/NAME.jpg|png|...
ROOT/masks/defective/NAME.png      0 background, 255 defect; pairs with the image of stem NAME
ROOT/parts.csv                     optional: image,part (image relative to ROOT)
```

``parts.csv`` names the physical part each image shows, where a dataset holds several images of
one part (exposures, views, re-shoots). Every split then keeps a part's images together: a model
scored on the other exposure of a part it trained on is scored on a part it has seen, and a
threshold set on such a validation split promises a recall it will not keep on new parts. An
image it does not list is a part of its own. A part with images in both train and test is a
problem (``leak``).

A defective image without a mask is valid (``has_mask`` False: it gets only the image-level
losses). Because every defective image shares the one ``masks/defective/`` folder, the stem of a
defective image must be unique over both splits, and every mask must pair with an image.

It lives in ``edge``, torch-free, because training, evaluation, export and the bench on a camera
all read datasets in this layout and must pair the same images with the same masks.

Structural problems are collected, not raised one by one, so that ``gainctl data check`` can name
all of them at once; :func:`scan_dataset` raises them together.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

CLASS_NAMES = ("normal", "defective")
PARTS_FILE = "parts.csv"
PARTS_COLUMNS = ("image", "part")
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
LAYOUT_HELP = (
    "expected ROOT/images/{train,test}/{normal,defective}/ with images and ROOT/masks/defective/ "
    "with masks named like their images"
)


class DataError(ValueError):
    """Data that cannot be used as given; the message names the file and the fix."""


@dataclass(frozen=True)
class Sample:
    """One image; paths are absolute in memory (manifests store them relative to the root)."""

    image: Path
    label: int
    split: str
    mask: Path | None = None
    part: str | None = None  # the physical part shown (parts.csv); None: a part of its own

    @property
    def has_mask(self) -> bool:
        return self.mask is not None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset: ``kind`` groups them in reports, ``message`` says the fix."""

    kind: str
    path: Path
    message: str

    def __str__(self) -> str:
        return self.message


DATASET_WHAT = ("a dataset written by gainctl data (images/, masks/ and synth.json or import.json, nothing else, "
                "hidden entries such as .git or .dvc included)")


def written_dataset(root: Path) -> bool:
    """Whether ``root`` holds only what ``gainctl data`` writes: a folder its ``--force`` may replace.

    Hidden entries count too: a ``.git`` or ``.dvc`` beside the images is the user's, and would go with the folder.
    """
    names = {p.name for p in root.iterdir()}
    return (root / "images").is_dir() and names <= {"images", "masks", "synth.json", "import.json", PARTS_FILE}


def data_root_of(sample: Sample) -> Path:
    """The dataset root an image belongs to: images/<split>/<class>/NAME sits 4 levels below."""
    return sample.image.parents[3]


def image_files(folder: Path, problems: list[Problem] | None = None) -> list[Path]:
    """Image files of one folder, sorted; hidden files are skipped.

    Anything else is a problem when ``problems`` is given (a dataset folder holds images only) and
    skipped otherwise (an importer's source folder may hold a readme or a licence).
    """
    files = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            files.append(path)
        elif problems is not None:
            problems.append(Problem(
                "unsupported", path,
                f"{path}: not an image this kit reads ({', '.join(IMAGE_SUFFIXES)}); "
                "move it out of the dataset folder",
            ))
    return files


def scan_layout(root: str | Path) -> tuple[list[Sample], list[Problem]]:
    """Read the layout without raising: the samples that pair cleanly, and every problem found."""
    root = Path(root).resolve()
    problems: list[Problem] = []
    images_dir = root / "images"
    if not images_dir.is_dir():
        problems.append(Problem(
            "layout", images_dir,
            f"{images_dir}: missing images/ folder; {LAYOUT_HELP} "
            "(or make one with 'gainctl data import' / 'gainctl data synth')",
        ))
        return [], problems

    found: list[tuple[Path, int, str]] = []
    for split in SPLITS:
        split_dir = images_dir / split
        if not split_dir.is_dir():
            if split == "train":
                problems.append(Problem(
                    "layout", split_dir, f"{split_dir}: missing train split folder; {LAYOUT_HELP}"
                ))
            continue
        for label, name in enumerate(CLASS_NAMES):
            class_dir = split_dir / name
            if not class_dir.is_dir():
                problems.append(Problem(
                    "layout", class_dir,
                    f"{class_dir}: missing class folder; add the {name} images of the {split} split there",
                ))
                continue
            files = image_files(class_dir, problems)
            if not files:
                problems.append(Problem(
                    "empty", class_dir,
                    f"{class_dir}: empty class folder; add {name} images there "
                    "(each split needs both classes)",
                ))
            found += [(path, label, split) for path in files]

    masks = _masks_by_stem(root / "masks" / "defective", problems)
    defective_by_stem: dict[str, Path] = {}
    samples = []
    for path, label, split in found:
        mask = None
        if label == 1:
            earlier = defective_by_stem.setdefault(path.stem, path)
            if earlier != path:
                problems.append(Problem(
                    "ambiguous", path,
                    f"{path}: same name as {earlier}; masks pair by name, so rename one of them "
                    "(and its mask)",
                ))
                continue
            mask = masks.get(path.stem)
        samples.append(Sample(image=path, label=label, split=split, mask=mask))
    samples = _with_parts(root, samples, problems)

    for stem, mask in sorted(masks.items()):
        if stem not in defective_by_stem:
            problems.append(Problem(
                "orphan", mask,
                f"{mask}: mask with no image; add images/<split>/defective/{stem}.<ext> "
                "or remove the mask",
            ))
    return sorted(samples, key=lambda s: (s.split, s.label, str(s.image))), problems


def _with_parts(root: Path, samples: list[Sample], problems: list[Problem]) -> list[Sample]:
    """``samples`` with the parts ``ROOT/parts.csv`` names; its problems added to ``problems``."""
    path = root / PARTS_FILE
    if not path.is_file():
        return samples
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != PARTS_COLUMNS:
            problems.append(Problem("parts", path, f"{path}: its header must be '{','.join(PARTS_COLUMNS)}', "
                                                   f"found {','.join(reader.fieldnames or ()) or 'none'}; fix the first line"))
            return samples
        parts = {row["image"]: row["part"] for row in reader if row["part"]}  # a blank part: its own
    by_image = {s.image.relative_to(root).as_posix(): s for s in samples}
    for image in sorted(set(parts) - set(by_image)):
        problems.append(Problem("parts", path, f"{path}: lists {image}, which is not an image of this dataset; "
                                               "remove the line or add the image"))
    splits: dict[str, set[str]] = {}
    for image, part in parts.items():
        if image in by_image:
            splits.setdefault(part, set()).add(by_image[image].split)
    for part, where in sorted(splits.items()):
        if len(where) > 1:
            problems.append(Problem("leak", path, f"{path}: part {part!r} has images in both train and test, so the "
                                                  "test scores a part the model trained on; move them to one split"))
    return [replace(s, part=parts.get(rel)) for rel, s in by_image.items()]


def _masks_by_stem(mask_dir: Path, problems: list[Problem]) -> dict[str, Path]:
    if not mask_dir.is_dir():
        return {}
    masks: dict[str, Path] = {}
    for path in image_files(mask_dir, problems):
        if path.stem in masks:
            problems.append(Problem(
                "ambiguous", path,
                f"{path}: second mask for '{path.stem}' (also {masks[path.stem].name}); keep one",
            ))
            continue
        masks[path.stem] = path
    return masks


def scan_dataset(root: str | Path) -> list[Sample]:
    """Every sample of a dataset root, sorted by (split, label, path); raises on any problem."""
    samples, problems = scan_layout(root)
    if problems:
        raise DataError(
            f"dataset {Path(root)} has {len(problems)} problem(s):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return samples
