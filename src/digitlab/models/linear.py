"""A linear model with PyTorch's built-in layer: one weight per pixel per class, plus a bias."""

from typing import cast

from torch import nn

from digitlab.models.layers import (
    Normalize,
    channels_config,
    check_channels,
    check_input_size,
    check_int,
    check_normalization,
)


class Linear(nn.Sequential):
    """(B,1,28,28) -> flatten (B,784) -> (B,n_out); (B,C,H,W) -> (B,C*H*W) -> (B,n_out) for others."""

    def __init__(
        self,
        n_out: int = 10,
        mean: float = 0.0,
        std: float = 1.0,
        input_size: tuple[int, int] = (28, 28),
        in_channels: int = 1,
    ):
        check_int("n_out", n_out, 1, 1000)
        check_normalization(mean, std)
        height, width = check_input_size(input_size)
        channels = check_channels(in_channels)
        super().__init__(Normalize(mean, std), nn.Flatten(), nn.Linear(channels * height * width, n_out))
        self.config = {
            "n_out": n_out, "mean": mean, "std": std, "input_size": [height, width],
            **channels_config(channels),
        }  # fmt: skip

    @property
    def first_layer(self) -> nn.Linear:
        return cast(nn.Linear, self[2])
