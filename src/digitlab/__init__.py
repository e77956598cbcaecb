"""digitlab: handwritten digit recognition built from scratch on PyTorch."""

__version__ = "0.1.0"
