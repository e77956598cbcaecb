"""Models of a user's own, as `--model tests.helpers.custom_models:Class` names them in the tests."""

import torch
from torch import nn


class TinyNet(nn.Module):
    """A small convolutional net of the kind a user brings: any image size (it pools to 4x4), any
    class count, and no digitlab in sight. (B,1,H,W) -> (B,8,4,4) -> (B,n_classes)."""

    def __init__(self, n_classes: int = 10, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten()
        )
        self.head = nn.Linear(width * 16, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class NotAModule:
    """A class that is no torch.nn.Module: refused."""


class StopsPartWay(TinyNet):
    """TinyNet that raises at its Nth training batch when DIGITLAB_TEST_STOP_AT=N is set: a run
    that dies part way, to resume."""

    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import os

        if self.training:
            StopsPartWay.calls += 1
            if StopsPartWay.calls == int(os.environ.get("DIGITLAB_TEST_STOP_AT", "0")):
                raise RuntimeError("stopped part way, as the test asked")
        return super().forward(x)


class ReadsANumberAtBuild(TinyNet):
    """A class that reads a tensor's value while it is built: cannot be built on the meta device."""

    def __init__(self, n_classes: int = 10):
        super().__init__(n_classes)
        self.scale = float(torch.ones(1).item())


class AnyChannels(TinyNet):
    """TinyNet for grey or colour images: digitlab gives it the data's channels as `in_channels`."""

    def __init__(self, n_classes: int = 10, width: int = 8, in_channels: int = 1):
        super().__init__(n_classes, width)
        self.features[0] = nn.Conv2d(in_channels, width, 3, padding=1)
