"""Every model maps (B,1,28,28) floats in [0,1] to (B,n_out) scores, and keeps its `config`."""

from typing import Any

import torch
from torch import nn

from digitlab.models.baseline import PixelSimilarity
from digitlab.models.cnn import CNN
from digitlab.models.ensemble import Ensemble
from digitlab.models.linear import Linear
from digitlab.models.mlp import MLP
from digitlab.models.outputs import batch_probs, predict_probs, to_classes, to_probs

MODELS: dict[str, type[nn.Module]] = {
    "baseline": PixelSimilarity,
    "linear": Linear,
    "mlp": MLP,
    "cnn": CNN,
    "ensemble": Ensemble,
}

__all__ = [
    "CNN",
    "Ensemble",
    "MLP",
    "MODELS",
    "Linear",
    "PixelSimilarity",
    "batch_probs",
    "build_model",
    "model_name",
    "predict_probs",
    "to_classes",
    "to_probs",
]


# A model (an ensemble: all its members together) may hold this many numbers, weights and buffers:
# 100 MB as float32. digitlab's largest preset holds 0.3 million; a model.json or a checkpoint may
# come from anyone, and 16 CNNs of the largest allowed config would otherwise take 14 GB.
MAX_NUMBERS = 25_000_000


def build_model(name: str, **config: Any) -> nn.Module:
    """A fresh model by name; `config` as saved in a model file rebuilds it exactly.

    Its size is counted first on the meta device (no memory), and refused over MAX_NUMBERS.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    with torch.device("meta"):
        shape_only = MODELS[name](**config)
    numbers = sum(t.numel() for t in shape_only.state_dict().values())
    if numbers > MAX_NUMBERS:
        raise ValueError(f"a {name} of this config holds {numbers:,} numbers, over the {MAX_NUMBERS:,} limit")
    return MODELS[name](**config)


def model_name(model: nn.Module) -> str:
    return next(name for name, cls in MODELS.items() if type(model) is cls)
