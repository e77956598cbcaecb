"""From a model's outputs to probabilities: the one path every prediction takes.

The Learner, evaluation, `predict`, the lesson and the web app all call `batch_probs` or
`predict_probs`, so binary (one output) versus ten classes is decided here and nowhere else.
"""

import torch
from torch import nn


def to_probs(outputs: torch.Tensor) -> torch.Tensor:
    """Softmax over classes, or sigmoid for a single binary output. (B,C) -> (B,C)."""
    outputs = outputs.float()
    return outputs.sigmoid() if outputs.shape[-1] == 1 else outputs.softmax(dim=-1)


def to_classes(probs: torch.Tensor) -> torch.Tensor:
    """Class indices from probabilities: argmax, or a 0.5 threshold for one binary output."""
    return (probs[:, 0] > 0.5).long() if probs.shape[-1] == 1 else probs.argmax(-1)


@torch.no_grad()
def batch_probs(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    """Probabilities for one batch, in eval mode, on the CPU: (B,...) -> (B,C)."""
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    return to_probs(model(xb.to(device))).cpu()


def predict_probs(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Probabilities for many samples, a batch at a time, in order: (N,...) -> (N,C)."""
    if len(x) == 0:
        raise ValueError("no samples to predict")
    return torch.cat([batch_probs(model, xb) for xb in torch.split(x, batch_size)])
