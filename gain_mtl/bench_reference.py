"""The PyTorch reference of ``gainctl bench``: the full checkpoint in eager FP32, on the same machine.

This is what a user runs before exporting anything (the whole GainMTL with every head, the
preprocessing in torch), so every benchmark row states its speed-up against it. It implements the
edge runner interface (activate / infer / deactivate, ``input_spec``, ``jobs``) and is handed to
``edge.bench.run_bench`` as a reference backend, which keeps the edge torch-free.
"""

from __future__ import annotations

from pathlib import Path
import numpy as np

from edge.bench import BenchError
from edge.bundle import Bundle, InputSpec


class TorchReferenceRunner:
    """GainMTL eager FP32 on CPU: uint8 NHWC frames in, the bundle's outputs out."""

    name = "torch"

    def __init__(self, checkpoint: Path, input_spec: InputSpec, threads: int | None = None) -> None:
        self.model_path = checkpoint
        self.input_spec = input_spec
        self.threads = threads
        self.jobs = 1

    def activate(self) -> None:
        import torch

        from gain_mtl.data.transforms import IMAGENET_MEAN, IMAGENET_STD
        from gain_mtl.schedule import final_logits_key
        from gain_mtl.train.checkpoint import load_model

        if self.threads:
            torch.set_num_threads(self.threads)
        self._torch = torch
        self._model, config, _ = load_model(self.model_path, "cpu")
        self._final = final_logits_key(config.train.strategy)
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0

    def artifact_bytes(self) -> int:
        """Bytes of the FP32 weights the model holds (the checkpoint file adds optimizer state)."""
        return sum(t.numel() * t.element_size() for t in self._model.state_dict().values())

    def deactivate(self) -> None:
        self.__dict__.pop("_model", None)

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        frames = torch.from_numpy(feed[self.input_spec.name]).permute(0, 3, 1, 2).float()
        if self.input_spec.channel_order == "BGR":
            frames = frames.flip(1)
        with torch.inference_mode():
            out = self._model((frames - self._mean) / self._std)
            return {
                "defect_prob": torch.softmax(out[self._final], dim=1)[:, 1].numpy(),
                "attention_map": out["attention_map"].numpy(),
                "localization_map": torch.sigmoid(out["localization_logits"]).numpy(),
            }


class TorchReference:
    """Reference backend factory for ``run_bench``: opens a TorchReferenceRunner per row."""

    name = "torch"
    precisions = ("fp32",)

    def __init__(self, checkpoint: str | Path | None, bundle: Bundle) -> None:
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.bundle = bundle

    def open(self, precision: str, threads: int | None) -> TorchReferenceRunner:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ImportError("torch is not installed: pip install 'gain-mtl[train]' to add the PyTorch reference") from None
        if self.checkpoint is None:
            raise BenchError("no checkpoint for the PyTorch reference: pass --checkpoint (the .pt the bundle was exported from)")
        if not self.checkpoint.is_file():
            raise BenchError(f"{self.checkpoint}: checkpoint not found; pass --checkpoint with the exported run's .pt")
        return TorchReferenceRunner(self.checkpoint, self.bundle.spec.input, threads)

