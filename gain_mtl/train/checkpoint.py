"""Checkpoints: plain tensors and builtins only, written atomically, loaded with weights_only=True.

A checkpoint never pickles a module or a numpy object: RNG states are stored as tensors and lists
so that ``torch.load(weights_only=True)`` (no code execution) reads everything back, and a
resumed run draws exactly the random numbers an uninterrupted one would have drawn.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gain_mtl.config import Config, config_from_dict

FORMAT = "gain-mtl-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message names the file and the fix."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Serialise to memory, then write atomically: a Ctrl-C mid-write keeps the previous file."""
    from edge.atomic import atomic_write_bytes

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated file or a pickle of arbitrary objects
        raise CheckpointError(f"{path} is not a gain-mtl checkpoint readable with weights_only=True ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path}: format {found!r} is not {FORMAT!r}; train it with 'gainctl train'")
    return state


def capture_rng() -> dict[str, Any]:
    """Every RNG a training step draws from: torch (CPU and CUDA), numpy, python.

    The loaders need nothing more: the sampler reshuffles from ``seed + epoch`` and the workers' seeds
    are drawn from torch's RNG when an epoch starts.
    """
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_version, "internal": list(py_internal), "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        ("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
         np_state["has_gauss"], np_state["cached_gaussian"])
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_config(state: dict[str, Any], path: str | Path) -> Config:
    try:
        stored = state["config"]
        if "normalization" not in stored.get("model", {}):
            # Trained before the key existed, with ImageNet's statistics whatever the backbone.
            stored = {**stored, "model": {**stored["model"], "normalization": "imagenet"}}
        return config_from_dict(stored)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: its stored config is unreadable ({exc})") from exc


def load_state_strict(model: torch.nn.Module, weights: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load every tensor or fail naming the file: a checkpoint from another architecture."""
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise CheckpointError(
            f"{path} was saved from another architecture than the configured model "
            f"({' '.join(first)}); use a checkpoint of the same backbone and heads"
        ) from exc


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, Config, dict[str, Any]]:
    """The checkpoint's network in eval mode, its Config (as trained) and its metadata."""
    from gain_mtl.models.network import GainMTL

    state = load_checkpoint(path)
    config = checkpoint_config(state, path)
    # The stored weights replace any pretrained ones: never reach for the hub or a weights file.
    model = GainMTL(config.model, load_weights=False)
    load_state_strict(model, state["model"], path)
    return model.to(device).eval(), config, dict(state.get("meta", {}))
