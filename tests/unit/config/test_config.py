"""The typed config: built-ins load, overrides apply, and mistakes are named."""

from __future__ import annotations

import pytest

from gain_mtl.config import Config, ConfigError, load_config, save_config


def test_default_is_the_designs_setup() -> None:
    cfg = load_config("default")
    assert cfg.model.backbone == "tf_efficientnetv2_s.in1k" and cfg.model.pretrained is True
    assert cfg.data.image_size == 512
    assert cfg.train.batch_size == 16
    assert cfg.train.epochs == 100
    assert cfg.train.lr == pytest.approx(1e-4)
    assert cfg.train.amp == "auto"
    assert cfg.data.val_ratio == pytest.approx(0.2)
    assert (cfg.augment.hflip, cfg.augment.vflip, cfg.augment.rot90) == (0.5, 0.5, 0.5)
    assert (cfg.augment.color_jitter, cfg.augment.gaussian_noise) == (0.3, 0.2)


def test_tiny_overrides_only_what_it_names() -> None:
    tiny = load_config("tiny")
    assert tiny.model.backbone == "test_efficientnet"
    assert tiny.model.pretrained is False
    assert tiny.augment == Config().augment


def test_dotted_overrides_are_typed() -> None:
    cfg = load_config("tiny", ["train.epochs=3", "train.lr=0.01", "model.weights=/tmp/w.safetensors"])
    assert cfg.train.epochs == 3 and isinstance(cfg.train.lr, float)
    assert cfg.model.weights == "/tmp/w.safetensors"


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("train.epoch=3", "train.epoch"),
        ("train.epochs=many", "train.epochs"),
        ("train.amp=3", "train.amp"),
        ("nosuchsection.x=1", "nosuchsection"),
        ("train.epochs", "section.key=value"),
        ("loss.focal_scale=0", "loss.focal_scale"),
    ],
)
def test_bad_overrides_name_the_key(override: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        load_config("tiny", [override])


def test_unknown_config_name_lists_builtins() -> None:
    with pytest.raises(ConfigError, match="default, demo, tiny"):
        load_config("huge")


def test_save_and_reload_round_trip(tmp_path) -> None:
    cfg = load_config("tiny", ["train.strategy=S6"])
    path = tmp_path / "run" / "config.yaml"
    save_config(cfg, path)
    again = load_config(path)
    assert again == cfg and again.digest() == cfg.digest()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_invalid_yaml_names_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)


@pytest.mark.parametrize("overrides", [[], ["train.epochs=2"]])
@pytest.mark.parametrize(("text", "kind"), [("- train\n- model\n", "list"), ("S5\n", "str")])
def test_a_top_level_that_is_no_mapping_names_the_file(tmp_path, overrides, text, kind) -> None:
    bad = tmp_path / "flat.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=rf"flat\.yaml: the top level must map sections .* got a {kind}"):
        load_config(bad, overrides)


def test_an_empty_section_takes_overrides(tmp_path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("train:\nmodel:\n  backbone: test_efficientnet\n")
    cfg = load_config(path, ["train.epochs=2"])
    assert cfg.train.epochs == 2 and cfg.model.backbone == "test_efficientnet"
    assert cfg.train.lr == Config().train.lr
    empty = tmp_path / "nothing.yaml"
    empty.write_text("")
    assert load_config(empty, ["train.epochs=3"]).train.epochs == 3
