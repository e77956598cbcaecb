"""Metrics with one protocol: `reset()`, `update(preds, targets)` per batch, `compute()` per epoch.

Any plain function `f(preds, targets) -> number` is a metric too (the lesson's
`batch_accuracy`): it is averaged over samples, so a short last batch weighs what it holds,
and its table column is the function's name.
"""

from collections.abc import Callable
from typing import Any

import torch

from digitlab.models import to_classes, to_probs


def accuracy(preds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of right answers: argmax of (B,C) scores, or a sigmoid above 0.5 for (B,1) ones."""
    return (to_classes(to_probs(preds.reshape(len(preds), -1))) == targets.reshape(-1)).float().mean()


class Metric:
    """Averages `fn(preds, targets)` over every sample seen since `reset()`.

    The running total stays a tensor on the batch's device: no GPU sync per batch.
    """

    def __init__(
        self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None, name: str | None = None
    ):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.reset()

    def reset(self) -> None:
        self.total: torch.Tensor | float = 0.0  # a tensor stays on its device until computed
        self.count = 0

    def update(self, preds: torch.Tensor, targets: torch.Tensor) -> None:
        if self.fn is None:
            raise ValueError(f"metric {self.name} has no function: add() its values instead")
        self.add(self.fn(preds, targets), len(targets))

    def add(self, value: torch.Tensor | float, n: int) -> None:
        """Count a batch mean `value` of `n` samples."""
        if isinstance(value, torch.Tensor):  # only the operations needed: a small net's batch is cheap
            value = value.detach() if value.requires_grad else value
            value = value if value.dtype == torch.float32 else value.float()
        else:
            value = float(value)
        self.total, self.count = self.total + value * n, self.count + n

    def compute(self) -> float:
        """The mean; in distributed training, over the samples of every process (sums and counts reduced)."""
        total, count = float(self.total), self.count
        if torch.distributed.is_initialized():
            gpu = torch.distributed.get_backend() == "nccl"  # NCCL reduces GPU tensors only
            both = torch.tensor([total, count], dtype=torch.float64, device="cuda" if gpu else "cpu")
            torch.distributed.all_reduce(both)
            total, count = both[0].item(), int(both[1].item())
        return total / count if count else float("nan")


def as_metric(metric: Any) -> Metric:
    """A Metric as it is, or a plain function wrapped in one."""
    return metric if isinstance(metric, Metric) else Metric(metric)
