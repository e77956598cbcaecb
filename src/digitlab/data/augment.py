"""Batched augmentation: one random affine warp per image, applied to the whole batch at once.

Small rotations, shifts and zooms keep a digit what it is (never a flip or a half turn,
which would turn a 6 into a 9). It runs as tensor ops on the batch's device: no PIL.
"""

import math

import torch
import torch.nn.functional as F


class RandomAffine:
    """Callable on (B,1,H,W) float batches; reproducible from `seed`."""

    def __init__(self, degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1, seed: int = 0):
        self.degrees, self.shift, self.zoom = degrees, shift, zoom
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        b = len(xb)
        u = torch.rand(b, 4, generator=self.generator) * 2 - 1  # uniform in [-1, 1)
        angle = u[:, 0] * math.radians(self.degrees)
        scale = 1 + u[:, 1] * self.zoom
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        # theta maps output coords to input coords, in [-1,1] units (shift 0.1 ~ 1.4 px)
        theta = torch.stack(
            [
                torch.stack([cos, -sin, u[:, 2] * self.shift], 1),
                torch.stack([sin, cos, u[:, 3] * self.shift], 1),
            ],
            1,
        )
        theta = theta.to(xb.device, xb.dtype)
        grid = F.affine_grid(theta, list(xb.shape), align_corners=False)
        return F.grid_sample(xb, grid, align_corners=False, padding_mode="zeros")
