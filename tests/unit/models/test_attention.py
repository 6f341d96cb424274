"""The learnable temperature, CBAM's order, and the attention module's shapes."""

from __future__ import annotations

import torch

from gain_mtl.models.attention import GainAttention, LearnableTemperature, MIN_TEMPERATURE


def test_temperature_starts_at_one_gets_gradient_and_stays_positive():
    module = GainAttention(channels=8, hidden=4)
    assert abs(module.temperature().item() - 1.0) < 1e-6
    module(torch.randn(2, 8, 4, 4)).pow(2).sum().backward()
    assert module.temperature.raw.grad is not None and module.temperature.raw.grad != 0
    temperature = LearnableTemperature()
    with torch.no_grad():
        temperature.raw.fill_(-1e4)  # a runaway optimiser step
    assert temperature().item() >= MIN_TEMPERATURE


def test_logits_are_divided_by_the_temperature():
    torch.manual_seed(0)
    module = GainAttention(channels=8, hidden=4).eval()
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        before = module(x)
        module.temperature.raw.fill_(torch.log(torch.expm1(torch.tensor(2.0 - MIN_TEMPERATURE))))
        after = module(x)
    torch.testing.assert_close(after, before / 2)


def test_cbam_is_channel_then_spatial():
    module = GainAttention(channels=8, hidden=4)
    assert [name for name, _ in module.cbam.named_children()] == ["channel", "spatial"]
