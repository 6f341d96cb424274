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

        from gain_mtl.export.graph import OUTPUT_NAMES, InferenceGraph
        from gain_mtl.schedule import final_logits_key
        from gain_mtl.train.checkpoint import load_model

        if self.threads:
            torch.set_num_threads(self.threads)
        self._torch = torch
        self._model, config, _ = load_model(self.model_path, "cpu")
        self._final = final_logits_key(config.train.strategy)
        # Only the exported graph's preprocessing (uint8 NHWC in the camera's channel order ->
        # normalised RGB) is borrowed; the full model still runs, every head included.
        graph = InferenceGraph(self._model, config.train.strategy, self.input_spec.channel_order)
        self._normalise = graph.normalise
        self._output_names = OUTPUT_NAMES

    def artifact_bytes(self) -> int:
        """Bytes of the FP32 weights the model holds (the checkpoint file adds optimizer state)."""
        return sum(t.numel() * t.element_size() for t in self._model.state_dict().values())

    def deactivate(self) -> None:
        self.__dict__.pop("_normalise", None)  # holds the graph, which shares the model's modules
        self.__dict__.pop("_model", None)

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        frames = torch.from_numpy(feed[self.input_spec.name])
        with torch.inference_mode():
            out = self._model(self._normalise(frames))
            outputs = (torch.softmax(out[self._final], dim=1)[:, 1], out["attention_map"],
                       torch.sigmoid(out["localization_logits"]))
            return {name: tensor.numpy() for name, tensor in zip(self._output_names, outputs)}


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

