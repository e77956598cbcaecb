"""Every model maps (B,1,28,28) floats in [0,1] to (B,n_out) scores, and keeps its `config`."""

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


def build_model(name: str, **config) -> nn.Module:
    """A fresh model by name; `config` as saved in a model file rebuilds it exactly."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name](**config)


def model_name(model: nn.Module) -> str:
    return next(name for name, cls in MODELS.items() if type(model) is cls)
