"""Errors raised while building the network or loading its weights."""

from __future__ import annotations


class ModelError(ValueError):
    """A model configuration or weights file that cannot be used; the message says the fix."""


class UnknownBackboneError(ModelError, KeyError):
    """A backbone name timm does not know. A KeyError too, as timm's own registries raise."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""
