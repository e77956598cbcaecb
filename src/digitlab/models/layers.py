"""Small layers the models share, and a look at what a first layer learnt."""

import math

import torch
from torch import nn


class Normalize(nn.Module):
    """(x - mean) / std with the training set's statistics, kept inside the model file."""

    mean: torch.Tensor  # buffers, saved with the weights
    std: torch.Tensor

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def check_int(name: str, value: object, low: int, high: int) -> int:
    """A whole number in [low, high], or ValueError naming the setting (model files are untrusted)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number {low}..{high}, got {value!r:.40}")
    return value


def check_float(name: str, value: object, low: float, high: float) -> float:
    """A finite number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r:.40}")
    return float(value)


def check_input_size(input_size: object) -> tuple[int, int]:
    """(height, width) of the images a model reads, each 8..256 pixels (what the data readers allow)."""
    if not isinstance(input_size, list | tuple) or len(input_size) != 2:
        raise ValueError(f"input_size must be two numbers (height, width), got {input_size!r:.40}")
    height, width = (check_int("input_size", side, 8, 256) for side in input_size)
    return height, width


CHANNELS = (1, 3)  # grey, or red-green-blue


def check_channels(in_channels: object) -> int:
    """The input's channels: 1 (grey) or 3 (RGB)."""
    if isinstance(in_channels, bool) or in_channels not in CHANNELS:
        raise ValueError(f"in_channels must be 1 (grey) or 3 (colour), got {in_channels!r:.40}")
    return int(in_channels)


def channels_config(in_channels: int) -> dict[str, int]:
    """The config entry of a model's input channels: none for grey, so a grey model's file is as it
    was before colour existed (and such a file still loads)."""
    return {} if in_channels == 1 else {"in_channels": in_channels}


def check_normalization(mean: object, std: object) -> None:
    check_float("mean", mean, -1e3, 1e3)
    check_float("std", std, 1e-6, 1e3)


def unit_images(
    weight: torch.Tensor, count: int | None = None, shape: tuple[int, int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` units of a first layer, (out, C*H*W) or (out,C,k,k), as images.

    Returns (units, H, W) in [-1, 1], each unit divided by its own largest |weight| so a
    unit with small weights is as readable as one with large weights, and those largest values.
    `shape`: (H, W) of a linear layer's input (default: square).
    """
    w = weight.detach().float().cpu()[:count]
    if w.ndim == 4:  # (out,C,k,k) filters: a colour filter's three planes summed
        w = w.sum(1)
    elif shape:  # (out, C*H*W) units: likewise
        w = w.reshape(len(w), -1, *shape).sum(1)
    else:
        side = math.isqrt(w[0].numel())
        w = w.reshape(-1, side, side)
    peak = w.abs().amax((1, 2)).clamp_min(1e-12)
    return w / peak.view(-1, 1, 1), peak
