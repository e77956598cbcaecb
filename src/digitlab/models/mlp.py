"""The lesson's neural net: linear, ReLU, linear.

Without the ReLU (the lesson's `nn.Sequential` versions), two linear layers collapse into one
linear function: `relu=False` exists only to show that.
"""

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


class MLP(nn.Sequential):
    """(B,1,28,28) -> (B,784) -> (B,hidden) -> ReLU -> (B,n_out) (C*H*W inputs for other shapes)."""

    def __init__(
        self,
        hidden: int = 30,
        n_out: int = 10,
        relu: bool = True,
        mean: float = 0.0,
        std: float = 1.0,
        input_size: tuple[int, int] = (28, 28),
        in_channels: int = 1,
    ):
        check_int("hidden", hidden, 1, 8192), check_int("n_out", n_out, 1, 1000)
        check_normalization(mean, std)
        height, width = check_input_size(input_size)
        channels = check_channels(in_channels)
        if not isinstance(relu, bool):
            raise ValueError(f"relu must be true or false, got {relu!r:.40}")
        activation = nn.ReLU() if relu else nn.Identity()
        super().__init__(
            Normalize(mean, std),
            nn.Flatten(),
            nn.Linear(channels * height * width, hidden),
            activation,
            nn.Linear(hidden, n_out),
        )
        self.config = {
            "hidden": hidden, "n_out": n_out, "relu": relu, "mean": mean, "std": std,
            "input_size": [height, width], **channels_config(channels),
        }  # fmt: skip

    @property
    def first_layer(self) -> nn.Linear:
        return cast(nn.Linear, self[2])

    @property
    def last_layer(self) -> nn.Linear:
        return cast(nn.Linear, self[4])
