"""A small modern convolutional net: conv-BN-ReLU blocks, max-pooling, a linear head.

Sizes for the default channels (16, 32, 64):
(B,1,28,28) -> block 16 -> pool (B,16,14,14) -> block 32 -> pool (B,32,7,7)
-> block 64 -> pool (B,64,3,3) -> flatten (B,576) -> dropout -> linear (B,10)
"""

from torch import nn

from digitlab.models.layers import Normalize


def conv_block(c_in: int, c_out: int, convs: int) -> list[nn.Module]:
    layers = []
    for i in range(convs):
        layers += [
            nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]
    return layers


class CNN(nn.Sequential):
    """Three stages of `convs` 3x3 convolutions each, every stage halving the resolution."""

    def __init__(
        self,
        channels: tuple[int, int, int] = (16, 32, 64),
        convs: int = 1,
        dropout: float = 0.1,
        n_out: int = 10,
        mean: float = 0.0,
        std: float = 1.0,
    ):
        c1, c2, c3 = channels
        super().__init__(
            Normalize(mean, std),
            *conv_block(1, c1, convs),
            nn.MaxPool2d(2),  # 28 -> 14
            *conv_block(c1, c2, convs),
            nn.MaxPool2d(2),  # 14 -> 7
            *conv_block(c2, c3, convs),
            nn.MaxPool2d(2),  # 7 -> 3
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c3 * 3 * 3, n_out),
        )
        self.config = {
            "channels": list(channels),
            "convs": convs,
            "dropout": dropout,
            "n_out": n_out,
            "mean": mean,
            "std": std,
        }

    @property
    def first_layer(self) -> nn.Conv2d:
        return self[1]
