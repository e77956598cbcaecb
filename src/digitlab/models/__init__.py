"""Every model maps (B,1,28,28) floats in [0,1] (or (B,C,H,W): its `input_channels` and `input_size`) to
(B,n_out) scores, and keeps its `config`: the keyword arguments that build it again."""

from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from digitlab.errors import DigitlabError
from digitlab.models.baseline import PixelSimilarity
from digitlab.models.cnn import CNN
from digitlab.models.ensemble import Ensemble
from digitlab.models.imported import ImportedModel, is_import_path
from digitlab.models.linear import Linear
from digitlab.models.mlp import MLP
from digitlab.models.outputs import batch_probs, predict_probs, to_classes, to_probs

if TYPE_CHECKING:  # for hints only: a model needs no data to be built
    from digitlab.data import Dataset

MODELS: dict[str, type[nn.Module]] = {
    "baseline": PixelSimilarity,
    "linear": Linear,
    "mlp": MLP,
    "cnn": CNN,
    "ensemble": Ensemble,
    "imported": ImportedModel,  # a class of the user's own: built only when they trust its code
}

__all__ = [
    "CNN",
    "Ensemble",
    "ImportedModel",
    "MLP",
    "MODELS",
    "Linear",
    "PixelSimilarity",
    "batch_probs",
    "UntrustedCode",
    "build_model",
    "check_fits",
    "input_channels",
    "input_size",
    "is_import_path",
    "model_name",
    "output_count",
    "predict_probs",
    "to_classes",
    "to_probs",
    "unwrap",
]


# A model (an ensemble: all its members together) may hold this many numbers, weights and buffers:
# 100 MB as float32. digitlab's largest preset holds 0.3 million; a model.json or a checkpoint may
# come from anyone, and 16 CNNs of the largest allowed config would otherwise take 14 GB.
MAX_NUMBERS = 25_000_000


class UntrustedCode(ValueError):
    """Building this model would import code from outside digitlab, and nobody said to trust it."""


def build_model(name: str, trust_code: bool = False, **config: Any) -> nn.Module:
    """A fresh model by name; `config` as saved in a model file rebuilds it exactly.

    Its size is counted first on the meta device (no memory), and refused over MAX_NUMBERS.
    An `imported` model runs the code of the module it names: only with `trust_code`, and then
    built as it is (code that is trusted can allocate anything; not every class builds on meta).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if name == "imported":
        if not trust_code:
            raise UntrustedCode(f"the model is {config.get('target')!r:.80}, a class from outside digitlab")
        return MODELS[name](**config)
    with torch.device("meta"):
        shape_only = MODELS[name](**config)
    numbers = sum(t.numel() for t in shape_only.state_dict().values())
    if numbers > MAX_NUMBERS:
        raise ValueError(f"a {name} of this config holds {numbers:,} numbers, over the {MAX_NUMBERS:,} limit")
    return MODELS[name](**config)


def model_name(model: nn.Module) -> str:
    return next(name for name, cls in MODELS.items() if type(model) is cls)


def input_size(model: nn.Module) -> tuple[int, int]:
    """(height, width) of the images `model` reads: its config's, an ensemble's members', or 28x28."""
    height, width = _input_config(model).get("input_size", (28, 28))
    return int(height), int(width)


def input_channels(model: nn.Module) -> int:
    """The channels of the images `model` reads: 3 for colour, else 1 (grey, as every model was before)."""
    return int(_input_config(model).get("in_channels", 1))


def _input_config(model: nn.Module) -> dict[str, Any]:
    """The config that says what the model reads: its own, or an ensemble's first member's."""
    config: dict[str, Any] = getattr(model, "config", {})
    return config["members"][0]["config"] if "members" in config else config


@torch.no_grad()
def output_count(model: nn.Module) -> int:
    """How many scores `model` gives an image (its class count), from one pass over two blank images."""
    tensors = [*model.parameters(), *model.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    training = model.training
    scores = model.eval()(torch.zeros(2, input_channels(model), *input_size(model), device=device))
    model.train(training)
    return int(scores.shape[-1])


def check_fits(model: torch.nn.Module, data: "Dataset", name: str) -> None:
    """The model reads images of the data's size and channels and scores every class their labels name."""
    if input_size(model) != data.image_size:
        (h, w), (dh, dw) = input_size(model), data.image_size
        raise DigitlabError(f"{name or 'data'}: its images are {dh}x{dw}, and the model reads {h}x{w}")
    if input_channels(model) != data.channels:
        raise DigitlabError(
            f"{name or 'data'}: its images have {data.channels} channel(s), and the model reads "
            f"{input_channels(model)} (1 grey, 3 colour)"
        )
    if data.labels is not None and len(data.labels) and (outputs := output_count(model)) < data.n_classes():
        raise DigitlabError(
            f"{name or 'data'}: has labels up to {int(data.labels.max())}, and the model {outputs} classes"
        )


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside its DistributedDataParallel and torch.compile wrappers (or the model itself)."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = cast(torch.nn.Module, model.module if hasattr(model, "module") else model._orig_mod)
    return model
