"""The trainer: the design's setup (Adam, cosine annealing, AMP, multi-stage losses) with a run
folder a practitioner can trust and resume.

RUN/ holds ``config.yaml`` (resolved), ``split.json``, ``history.csv`` (one row per epoch),
``checkpoints/last.pt`` and ``checkpoints/best.pt``, ``metrics.json`` (validation metrics of best),
and TensorBoard events under ``tensorboard/`` when tensorboard is installed.

``best.pt`` is the epoch with the highest validation ``train.best_metric`` among the epochs that
train every loss of the strategy at full weight (the rule and the default metric are in
:mod:`gain_mtl.train.selection`; ties keep the earlier epoch). Every checkpoint's
``meta.threshold`` is the decision threshold chosen on that epoch's validation predictions for
``train.target_recall`` at ``train.recall_confidence``, with its expected recall on new parts
(:mod:`gain_mtl.evaluate.threshold`), and ``meta.loc_threshold`` the localization map's threshold
chosen on the same predictions (:mod:`gain_mtl.evaluate.loc_threshold`).

Everything that can be wrong with the inputs is checked before the first step; ``last.pt`` is
written at the start and after every epoch, so Ctrl-C always leaves a resumable run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gain_mtl import __version__
from gain_mtl.config import Config, save_config
from gain_mtl.models.masks import MASK_RULE
from gain_mtl.train.checkpoint import (
    CheckpointError,
    capture_rng,
    checkpoint_config,
    load_checkpoint,
    load_state_strict,
    restore_rng,
    save_checkpoint,
)
from gain_mtl.train.distributed import DistInfo, barrier, init_distributed, shutdown
from gain_mtl.train.history import HistoryWriter, history_columns
from gain_mtl.train.progress import EpochProgress, summary_line
from gain_mtl.train.selection import metric_value, resolve_metric

BACKBONE_STRIDE = 32
# Keys that may change between an interrupted run and its resumption: where, not what, it trains.
# train.amp is resolved per device ("auto" -> bf16 here, fp16 there), so it moves with the device.
RESUMABLE_CHANGES = {"train.device", "train.amp", "data.num_workers", "data.disk_cache_gib"}
# key -> (lowest, highest, lowest allowed, highest allowed). Checked up front: the schedule and the
# threshold choice would only refuse these after the first epoch, leaving a last.pt that blocks a
# corrected rerun.
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "train.target_recall": (0.0, 1.0, False, True),
    "train.recall_confidence": (0.0, 1.0, False, False),
    "train.loc_warmup_ratio": (0.0, 1.0, True, True),
    "train.s6_alpha_start": (0.0, 1.0, True, True),
    "train.s6_alpha_end": (0.0, 1.0, True, True),
}
COUNTS = ("train.epochs", "train.batch_size")


class TrainError(ValueError):
    """Input that cannot be trained on; raised before the first step, naming the value and the fix."""


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def check_config(config: Config) -> None:
    """Strategy, image size, counts, ranges, best metric: every config error before any data is read."""
    from gain_mtl.data.transforms import NORMALIZATIONS
    from gain_mtl.evaluate.scores import HISTORY_KEYS
    from gain_mtl.schedule import check_strategy
    from gain_mtl.train.selection import allowed_metrics

    try:
        check_strategy(config.train.strategy)
    except ValueError as exc:
        raise TrainError(f"train.strategy: {exc}") from None
    if config.model.normalization not in NORMALIZATIONS:
        raise TrainError(f"model.normalization {config.model.normalization!r} is not one of: "
                         f"{', '.join(NORMALIZATIONS)}")
    size = config.data.image_size
    if size <= 0 or size % BACKBONE_STRIDE:
        lower = max(BACKBONE_STRIDE, size // BACKBONE_STRIDE * BACKBONE_STRIDE)
        raise TrainError(
            f"image size {size} is not divisible by the backbone stride {BACKBONE_STRIDE}; "
            f"use {lower} or {lower + BACKBONE_STRIDE}"
        )
    values = _flatten(config.to_dict())
    for key in COUNTS:
        if values[key] < 1:
            raise TrainError(f"{key} must be at least 1, got {values[key]}")
    for key, (low, high, low_allowed, high_allowed) in RANGES.items():
        value = values[key]
        if not (low <= value if low_allowed else low < value) or not (value <= high if high_allowed else value < high):
            interval = f"{'[' if low_allowed else '('}{low:g}, {high:g}{']' if high_allowed else ')'}"
            raise TrainError(f"{key} must be in {interval}, got {value}")
    allowed = allowed_metrics(HISTORY_KEYS)
    if config.train.best_metric not in allowed:
        raise TrainError(
            f"train.best_metric {config.train.best_metric!r} is not a validation metric; "
            f"choose one of: {', '.join(allowed)}"
        )


def check_data(data_root: str | Path, config: Config):
    """``gainctl data check`` (every file decoded) plus what training needs: both classes in
    train and val. Returns the split manifest."""
    from gain_mtl.data.check import check_dataset
    from gain_mtl.data.layout import DataError
    from gain_mtl.data.split import make_split

    root = Path(data_root)
    if not root.is_dir():
        raise TrainError(f"data folder {root} does not exist; make one with 'gainctl data import' or 'gainctl data synth'")
    report = check_dataset(root)
    if not report.ok:
        raise TrainError(f"data folder {root} fails the data check (see 'gainctl data check {root}'):\n{report.format()}")
    try:
        manifest = make_split(report.samples, config.data.val_ratio, config.data.seed)
    except DataError as exc:
        raise TrainError(f"data folder {root}: {exc}") from None
    for part in ("train", "val"):
        labels = {s.label for s in getattr(manifest, part)}
        if labels != {0, 1}:
            raise TrainError(
                f"data folder {root}: the {part} split needs normal and defective images "
                f"(found labels {sorted(labels)}); add images or change data.val_ratio"
            )
    return manifest


def resolve_device(name: str) -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` as a torch device; TrainError naming the value
    otherwise, instead of torch's parser error or a CUDA failure in the middle of a run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind, colon, index = name.partition(":")
    if kind not in {"cpu", "cuda"} or (colon and not index.isdigit()):
        raise TrainError(f"device {name!r} is not one of: auto, cpu, cuda, cuda:N")
    if kind == "cuda" and not torch.cuda.is_available():
        raise TrainError(f"device {name!r} asked for but CUDA is not available here; use --device cpu")
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise TrainError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                         "numbered from 0")
    return torch.device(name)


def seed_everything(seed: int, deterministic: bool) -> None:
    import os
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True


def cpu_bf16_feature() -> str | None:
    """The instruction set that runs bf16 natively on this CPU ("amx_bf16" or "avx512_bf16"), or
    None. Asked of torch's own CPU detection (what its kernels dispatch on), not of the model name:
    without these instructions bf16 is emulated and slower than float32."""
    if torch.cpu._is_amx_tile_supported():
        return "amx_bf16"
    if torch.cpu._is_avx512_bf16_supported():
        return "avx512_bf16"
    return None


@dataclass
class Amp:
    """The mixed precision a run uses: autocast dtype (None: float32), the GradScaler fp16 needs,
    and ``mode`` ("bf16", "fp16" or "off"), the resolved ``train.amp`` the run records."""

    mode: str
    dtype: torch.dtype | None
    scaler: torch.amp.GradScaler
    description: str

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    @classmethod
    def for_device(cls, device: torch.device, wanted: str) -> "Amp":
        """Resolve ``train.amp`` for ``device``; TrainError for a precision the device cannot run."""
        if device.type == "cuda":
            name = torch.cuda.get_device_name(device)
            native = name if torch.cuda.is_bf16_supported() else None
            if wanted == "bf16" and native is None:
                raise TrainError(f"train.amp=bf16: {name} has no bf16; use train.amp=fp16, auto or off")
            mode = ("bf16" if native else "fp16") if wanted == "auto" else wanted
            where = name
        else:
            if wanted == "fp16":
                raise TrainError("train.amp=fp16 is CUDA only (CPU autocast trains in bf16); use "
                                 "train.amp=bf16, auto or off")
            native = cpu_bf16_feature()
            mode = ("bf16" if native else "off") if wanted == "auto" else wanted
            where = native or "no AMX or AVX-512 BF16: bf16 emulated, slower than float32"
        if mode == "off":
            return cls("off", None, torch.amp.GradScaler(device.type, enabled=False),
                       f"amp: off, float32 on {device.type}" + ("" if wanted == "off" else f" ({where})"))
        fp16 = mode == "fp16"
        return cls(mode, torch.float16 if fp16 else torch.bfloat16,
                   torch.amp.GradScaler(device.type, enabled=fp16),
                   f"amp: {mode} autocast{' with a GradScaler' if fp16 else ''} on {device.type} ({where})")


def train_step(model, batch: dict[str, torch.Tensor], optimizer, amp: Amp, loss_fn, weights: dict[str, float],
               alpha: float | None, device: torch.device, channels_last: bool) -> tuple[torch.Tensor, dict[str, float]]:
    """One optimisation step on one batch (forward under ``amp``, the losses, backward, optimizer):
    the step the trainer repeats and ``benchmarks/train_speed.py`` times. Returns the loss terms."""
    images = batch["image"].to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    target = {k: batch[k].to(device, non_blocking=True) for k in ("label", "mask", "has_mask")}
    with torch.autocast(device.type, dtype=amp.dtype, enabled=amp.enabled):
        out = model(images, target["mask"], labels=target["label"], has_mask=target["has_mask"], s6_alpha=alpha)
    # The losses run in float32: BCE, Dice and focal terms are fragile in half precision.
    out = {k: v.float() for k, v in out.items()}
    total, components = loss_fn(out, target, weights)
    optimizer.zero_grad(set_to_none=True)
    amp.scaler.scale(total).backward()
    amp.scaler.step(optimizer)
    amp.scaler.update()
    return total, components


def _meta(config: Config, manifest, data_root: Path, val: dict[str, Any], epoch: int) -> dict[str, Any]:
    from edge.metrics import LOC_THRESHOLD
    from gain_mtl.evaluate.threshold import CHOICE_KEYS

    return {
        "strategy": config.train.strategy,
        "backbone": config.model.backbone,
        "image_size": config.data.image_size,
        # The decision threshold and its expected recall (the untrained epoch 0 has a threshold only).
        **{key: val.get(key) for key in CHOICE_KEYS},
        "target_recall": config.train.target_recall,
        "recall_confidence": config.train.recall_confidence,
        "loc_threshold": val.get("loc_threshold", LOC_THRESHOLD),
        "val_metrics": val,
        "epoch": epoch,
        "best_metric": resolve_metric(config.train.strategy, config.train.best_metric),
        "split_digest": manifest.digest(),
        "config_digest": config.digest(),
        "gain_mtl_version": __version__,
        "data_root": str(data_root),
        "mask_rule": MASK_RULE,
    }


class Trainer:
    """One run: built from a config and a data root, driven by :meth:`fit`."""

    def __init__(self, config: Config, data_root: str | Path, out_dir: str | Path, resume: bool):
        check_config(config)
        self.device = resolve_device(config.train.device)
        self.amp = Amp.for_device(self.device, config.train.amp)
        # config.yaml and the checkpoints record the precision used, not the request ("auto").
        self.config = dataclasses.replace(config, train=dataclasses.replace(config.train, amp=self.amp.mode))
        self.data_root = Path(data_root).resolve()
        self.run_dir = Path(out_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.last_path = self.ckpt_dir / "last.pt"
        self.best_path = self.ckpt_dir / "best.pt"
        self.resume_state = self._resume_state() if resume else None
        if not resume and self.last_path.exists():
            raise TrainError(
                f"{self.run_dir} already holds a run ({self.last_path}); pass --resume to continue "
                "it or choose another --out folder"
            )
        self.manifest = check_data(self.data_root, config)
        if self.resume_state is not None:
            stored = self.resume_state["meta"]["split_digest"]
            if not self.manifest.matches(stored):
                raise TrainError(
                    f"{self.data_root} gives another train/val split than the run in {self.run_dir} "
                    "(files added or removed?); resume with the same data folder"
                )

    def _resume_state(self) -> dict[str, Any]:
        if not self.last_path.exists():
            raise TrainError(f"nothing to resume: {self.last_path} not found; train without --resume first")
        try:
            state = load_checkpoint(self.last_path)
        except CheckpointError as exc:
            raise TrainError(str(exc)) from None
        stored = _flatten(checkpoint_config(state, self.last_path).to_dict())
        current = _flatten(self.config.to_dict())
        model_diff = sorted(k for k in current if k.startswith("model.") and stored.get(k) != current[k])
        if model_diff:
            raise TrainError(
                f"{self.last_path} is from another architecture ({', '.join(f'{k}={stored.get(k)!r}' for k in model_diff)}); "
                "resume with the run's own config.yaml or start a new --out folder"
            )
        other = sorted(k for k in current if stored.get(k) != current[k] and k not in RESUMABLE_CHANGES)
        if other:
            raise TrainError(
                f"resuming {self.run_dir} with a changed config ({', '.join(f'{k}: {stored.get(k)!r} -> {current[k]!r}' for k in other)}) "
                "would not continue the same run; drop those overrides or start a new --out folder"
            )
        rule = state.get("meta", {}).get("mask_rule", 1)  # checkpoints before the rule was recorded: 1
        if rule != MASK_RULE:
            raise TrainError(
                f"{self.last_path} was trained with mask rule {rule} for the maps' targets, this version uses "
                f"{MASK_RULE} (docs/design-choices.md #11); resuming would train one run under both: "
                "start a new --out folder"
            )
        return state

    def fit(self) -> Path:
        """Train to ``train.epochs``; returns the run dir."""
        info = init_distributed(self.device.type)
        try:
            if info.enabled and self.device.type == "cuda":
                self.device = torch.device("cuda", info.local_rank)
            return self._fit(info)
        finally:
            shutdown(info)

    def _build(self, info: DistInfo):
        from torch.nn.parallel import DistributedDataParallel

        from gain_mtl.losses import GainMTLLoss
        from gain_mtl.models.network import GainMTL
        from gain_mtl.train.loaders import make_loaders

        cfg = self.config
        seed_everything(cfg.train.seed, cfg.train.deterministic)
        model = GainMTL(cfg.model).to(self.device)
        if info.enabled and self.device.type == "cuda":
            # BatchNorm statistics over the global batch, as one process computes them (gloo on
            # CPU has no SyncBatchNorm: there each rank normalises its own share).
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if cfg.train.channels_last:
            model = model.to(memory_format=torch.channels_last)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.train.epochs)
        amp = self.amp
        if info.is_main:
            print(amp.description, flush=True)
        loss_fn = GainMTLLoss(cfg.loss).to(self.device)
        train_loader, sampler, val_loader = make_loaders(cfg, self.manifest, info, self.device)
        wrapped = model
        if info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # Stage gating leaves heads without gradient in early stages.
            wrapped = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
        return model, wrapped, optimizer, scheduler, amp, loss_fn, train_loader, sampler, val_loader

    def _fit(self, info: DistInfo) -> Path:
        from gain_mtl.evaluate.predict import predict
        from gain_mtl.evaluate.scores import HISTORY_KEYS, history_metrics
        from gain_mtl.evaluate.threshold import FALLBACK_THRESHOLD, choose_threshold
        from gain_mtl.schedule import LOSS_NAMES

        cfg = self.config
        eligible = self._eligibility(info)
        model, wrapped, optimizer, scheduler, amp, loss_fn, train_loader, sampler, val_loader = self._build(info)
        columns = history_columns(LOSS_NAMES, HISTORY_KEYS)
        start_epoch, best_value = 0, -math.inf
        if self.resume_state is not None:
            state = self.resume_state
            load_state_strict(model, state["model"], self.last_path)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            if state["scaler"]:  # empty when the run so far did not use fp16
                amp.scaler.load_state_dict(state["scaler"])
            start_epoch = int(state["epoch"])
            best_value = float(state["best_value"])
            restore_rng(state["rng"])
            self.resume_state = None  # release the tensors
        history = HistoryWriter.resume(self.run_dir / "history.csv", columns, start_epoch)
        writer = self._tensorboard(info)
        if info.is_main and start_epoch == 0:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.run_dir / "config.yaml")
            from gain_mtl.data.split import write_manifest

            write_manifest(self.manifest, self.run_dir / "split.json")
            # Epoch 0: Ctrl-C during the first epoch still leaves a run to resume.
            untrained = {"threshold": FALLBACK_THRESHOLD, "threshold_precision": None}
            self._save(self.last_path, model, optimizer, scheduler, amp, 0, best_value,
                       meta=_meta(cfg, self.manifest, self.data_root, untrained, 0))
        barrier(info)
        try:
            for epoch in range(start_epoch, cfg.train.epochs):
                started = time.perf_counter()
                row = self._train_epoch(epoch, wrapped, optimizer, scheduler, amp, loss_fn, train_loader, sampler, info)
                if info.is_main:
                    pred = predict(model, val_loader, cfg.train.strategy, self.device)
                    val = history_metrics(pred, choose_threshold(
                        pred.prob, pred.label, cfg.train.target_recall, cfg.train.recall_confidence,
                        parts=[s.part for s in self.manifest.val]))
                    row.update({f"val_{k}": val[k] for k in HISTORY_KEYS})
                    history.append(row)
                    meta = _meta(cfg, self.manifest, self.data_root, val, epoch + 1)
                    value = metric_value(val, meta["best_metric"])
                    value = -math.inf if value is None else value
                    # The first eligible epoch is kept even when its metric is undefined (None).
                    improved = eligible(epoch) and (value > best_value or not self.best_path.exists())
                    if eligible(epoch):
                        best_value = max(best_value, value)
                    self._save(self.last_path, model, optimizer, scheduler, amp, epoch + 1, best_value, meta)
                    if improved:
                        self._save(self.best_path, model, optimizer, scheduler, amp, epoch + 1, best_value, meta)
                        self._write_metrics(meta)
                    if writer is not None:
                        for key, v in row.items():
                            if isinstance(v, (int, float)) and key != "epoch":
                                writer.add_scalar(key, v, epoch + 1)
                        writer.flush()
                    print(summary_line(row, meta["best_metric"], time.perf_counter() - started), flush=True)
                barrier(info)
        except KeyboardInterrupt:
            if info.is_main:
                print(f"\ninterrupted: {self.last_path} holds the last finished epoch; "
                      f"continue with 'gainctl train ... --out {self.run_dir} --resume'", flush=True)
            raise
        finally:
            if writer is not None:
                writer.close()
        return self.run_dir

    def _eligibility(self, info: DistInfo):
        """``epoch -> bool``: may this 0-based epoch become best.pt (see gain_mtl.train.selection)?
        Says once, at the start, from which epoch on, or that the run is too short for the rule."""
        from gain_mtl.train.selection import first_eligible_epoch, is_eligible, resolve_metric

        t = self.config.train
        first = first_eligible_epoch(t.strategy, t.epochs, t.loc_warmup_ratio)
        if info.is_main:
            metric = resolve_metric(t.strategy, t.best_metric)
            if first is None:
                print(f"warning: with {t.epochs} epochs, {t.strategy} never trains all its losses at full "
                      f"weight; best.pt will be the last epoch. Train at least 4 epochs for the method's "
                      "checkpoint.", flush=True)
            else:
                print(f"best.pt: highest val {metric} from epoch {first + 1} of {t.epochs} on "
                      f"(every {t.strategy} loss at full weight)", flush=True)
        return lambda epoch: is_eligible(t.strategy, epoch, t.epochs, t.loc_warmup_ratio)

    def _train_epoch(self, epoch, model, optimizer, scheduler, amp: Amp, loss_fn, loader, sampler, info) -> dict[str, Any]:
        from gain_mtl.schedule import LOSS_NAMES, loss_weights, s6_alpha, stage_at

        cfg = self.config.train
        progress = epoch / cfg.epochs
        weights = loss_weights(cfg.strategy, progress, cfg.loc_warmup_ratio, self.config.loss.focal_scale)
        alpha = s6_alpha(cfg.strategy, progress, cfg.s6_alpha_start, cfg.s6_alpha_end)
        lr = optimizer.param_groups[0]["lr"]
        sampler.set_epoch(epoch)
        model.train()
        # Running sums: [total, one per loss, samples], reduced over ranks at the end.
        sums = torch.zeros(len(LOSS_NAMES) + 2, dtype=torch.float64)
        bar = EpochProgress(loader, epoch + 1, cfg.epochs, len(loader), enabled=info.is_main)
        try:
            for batch in bar:
                total, components = train_step(model, batch, optimizer, amp, loss_fn, weights, alpha,
                                               self.device, cfg.channels_last)
                n = batch["image"].shape[0]
                sums[0] += float(total.detach()) * n
                for i, name in enumerate(LOSS_NAMES):
                    sums[i + 1] += float(components[f"loss_{name}"]) * n
                sums[-1] += n
                bar.update({"loss_total": sums[0].item() / sums[-1].item(),
                            **{f"loss_{name}": sums[i + 1].item() / sums[-1].item()
                               for i, name in enumerate(LOSS_NAMES) if weights[name] > 0}})
        finally:
            bar.close()
        scheduler.step()
        if info.enabled:
            torch.distributed.all_reduce(sums)
        means = (sums / sums[-1]).tolist()
        row: dict[str, Any] = {"epoch": epoch + 1, "stage": stage_at(progress), "lr": lr, "loss_total": means[0]}
        for i, name in enumerate(LOSS_NAMES):
            row[f"loss_{name}"] = means[i + 1] if weights[name] > 0 else 0.0
            row[f"w_{name}"] = float(weights[name])
        return row

    def _save(self, path: Path, model, optimizer, scheduler, amp: Amp, epoch: int, best_value: float, meta) -> None:
        save_checkpoint(path, {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": amp.scaler.state_dict(),
            "epoch": epoch,
            "best_value": best_value,
            "rng": capture_rng(),
            "config": self.config.to_dict(),
            "meta": meta,
        })

    def _write_metrics(self, meta: dict[str, Any]) -> None:
        from edge.atomic import atomic_write_json
        from gain_mtl.evaluate.threshold import CHOICE_KEYS

        atomic_write_json(self.run_dir / "metrics.json", {
            "split": "val", "epoch": meta["epoch"], "best_metric": f"val_{meta['best_metric']}",
            **{key: meta[key] for key in CHOICE_KEYS}, "loc_threshold": meta["loc_threshold"], **meta["val_metrics"],
        })

    def _tensorboard(self, info: DistInfo):
        if not info.is_main:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(str(self.run_dir / "tensorboard"))


def train(config: Config, data_root: str | Path, out_dir: str | Path, resume: bool = False) -> Path:
    """Train one run into ``out_dir``; see the module docstring for what it holds."""
    return Trainer(config, data_root, out_dir, resume).fit()
