"""Small layers the models share."""

import torch
from torch import nn


class Normalize(nn.Module):
    """(x - mean) / std with the training set's statistics, kept inside the model file."""

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
