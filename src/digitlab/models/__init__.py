"""Every model maps (B,1,28,28) floats in [0,1] to (B,n_out) scores, and keeps its `config`."""

from torch import nn

from digitlab.models.baseline import PixelSimilarity
from digitlab.models.cnn import CNN
from digitlab.models.linear import Linear
from digitlab.models.mlp import MLP

MODELS: dict[str, type[nn.Module]] = {"baseline": PixelSimilarity, "linear": Linear, "mlp": MLP, "cnn": CNN}


def build_model(name: str, **config) -> nn.Module:
    """A fresh model by CLI name; `config` as saved in a model file rebuilds it exactly."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name](**config)


def model_name(model: nn.Module) -> str:
    return next(name for name, cls in MODELS.items() if type(model) is cls)


def first_layer_weight(model: nn.Module):
    """The first layer's weights (linear rows or conv filters), for looking inside the net."""
    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            return m.weight
    return None
