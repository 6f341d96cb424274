"""The seven GAIN-MTL losses (design section 3) and their weighted sum, ``GainMTLLoss``."""

from gain_mtl.losses.combined import GainMTLLoss

__all__ = ["GainMTLLoss"]
