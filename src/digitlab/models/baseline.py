"""Pixel similarity: the lesson's baseline. A class is scored by how close an image is to its mean.

It follows the model contract (images in, one score per class out), so evaluation, prediction
and the CLI treat it like a trained network; "training" is computing the class means.
"""

from collections.abc import Callable

import torch
from torch import nn

from digitlab.models.layers import channels_config, check_channels, check_input_size, check_int


def l1_distance(a: torch.Tensor, b: torch.Tensor, dims: tuple[int, ...] = (-1, -2)) -> torch.Tensor:
    """Mean absolute difference over the pixel dims (the lesson's `mnist_distance`)."""
    return (a - b).abs().mean(dims)


def l2_distance(a: torch.Tensor, b: torch.Tensor, dims: tuple[int, ...] = (-1, -2)) -> torch.Tensor:
    """Root mean squared difference over the pixel dims."""
    return (a - b).square().mean(dims).sqrt()


DISTANCES = {"l1": l1_distance, "l2": l2_distance}


class PixelSimilarity(nn.Module):
    """(B,1,28,28) in [0,1] -> (B,K) scores: minus the distance to each class mean (other sizes, and
    colour's (B,3,H,W), alike)."""

    means: torch.Tensor  # (K,28,28) (colour: (K,3,H,W)), a buffer saved with the model

    def __init__(
        self,
        n_classes: int = 10,
        distance: str = "l1",
        input_size: tuple[int, int] = (28, 28),
        in_channels: int = 1,
    ):
        super().__init__()
        check_int("n_classes", n_classes, 1, 1000)
        if not isinstance(distance, str) or distance not in DISTANCES:
            raise ValueError(f"distance must be one of {list(DISTANCES)}, got {distance!r}")
        self.size = check_input_size(input_size)
        channels = check_channels(in_channels)
        self.shape = self.size if channels == 1 else (channels, *self.size)  # a grey mean stays (H,W)
        self.config = {
            "n_classes": n_classes, "distance": distance, "input_size": list(self.size),
            **channels_config(channels),
        }  # fmt: skip
        self.distance: Callable[..., torch.Tensor] = DISTANCES[distance]
        self.register_buffer("means", torch.zeros(n_classes, *self.shape))

    def fit(self, images: torch.Tensor, labels: torch.Tensor) -> "PixelSimilarity":
        """images (N,C,28,28) floats, labels (N,) in 0..K-1: each class's mean image."""
        for c in range(len(self.means)):
            members = images[labels == c]
            if len(members) == 0:
                raise ValueError(f"no training images of class {c}")
            self.means[c] = members.reshape(-1, *self.shape).mean(0)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B,1,28,28) vs (K,28,28) -> broadcast (B,K,28,28) -> distance over pixels (B,K)
        pixel_dims = tuple(range(-len(self.shape), 0))  # (-2,-1), or (-3,-2,-1) with colour
        return -self.distance(x.reshape(-1, 1, *self.shape), self.means.unsqueeze(0), pixel_dims)
