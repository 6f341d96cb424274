"""Training: the trainer loop, checkpoints, data loaders, distributed helpers, progress output."""
