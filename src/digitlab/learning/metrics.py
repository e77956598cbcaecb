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
        return _mean_over_processes(float(self.total), self.count)


class SmoothLoss:
    """fastai's running training loss: an exponential moving average of the batch losses (`beta=0.98`),
    divided by `1 - beta**n` so the first batches are not pulled toward the zero it starts from.

    It is what fastai's epoch table shows as `train_loss` (the value at the epoch's end, carried on
    across the epochs of one fit) and what its learning-rate finder watches: it follows the loss as it
    is now, where an epoch's mean also remembers its first batches. One `lerp` a batch, on the device.
    """

    def __init__(self, beta: float = 0.98):
        self.beta = beta
        self.reset()

    def reset(self) -> None:
        self.val: torch.Tensor | None = None  # the undebiased average, on the loss's device
        self.count = 0

    def add(self, loss: torch.Tensor) -> None:
        loss = loss.detach().float()
        self.val = torch.lerp(loss, torch.zeros_like(loss) if self.val is None else self.val, self.beta)
        self.count += 1

    def value(self) -> torch.Tensor:
        """The debiased average now (NaN before the first batch)."""
        if self.val is None:
            return torch.tensor(float("nan"))
        return self.val / (1 - self.beta**self.count)

    def compute(self) -> float:
        """The value now; in distributed training, the mean of every process's."""
        return _mean_over_processes(float(self.value()), 1) if self.count else float("nan")


def smoothed(losses: list[torch.Tensor], beta: float = 0.98) -> list[torch.Tensor]:
    """Each batch's running loss, as `SmoothLoss` gives it after that batch (fastai's `recorder.losses`)."""
    smooth, out = SmoothLoss(beta), []
    for loss in losses:
        smooth.add(loss)
        out.append(smooth.value())
    return out


def _mean_over_processes(total: float, count: int) -> float:
    """total / count, both summed over the processes in distributed training."""
    if torch.distributed.is_initialized():
        gpu = torch.distributed.get_backend() == "nccl"  # NCCL reduces GPU tensors only
        both = torch.tensor([total, count], dtype=torch.float64, device="cuda" if gpu else "cpu")
        torch.distributed.all_reduce(both)
        total, count = both[0].item(), int(both[1].item())
    return total / count if count else float("nan")


def as_metric(metric: Any) -> Metric:
    """A Metric as it is, or a plain function wrapped in one."""
    return metric if isinstance(metric, Metric) else Metric(metric)
