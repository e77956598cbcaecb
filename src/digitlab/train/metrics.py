"""Metrics with one protocol: `reset()`, `update(preds, targets)` per batch, `compute()` per epoch.

Every metric is averaged by batch size, so a short last batch does not weigh as much as a full one.
"""

import torch


def predicted_classes(preds: torch.Tensor) -> torch.Tensor:
    """Class indices: argmax for (B,C) scores, a 0.5 threshold after sigmoid for (B,1) ones."""
    if preds.ndim == 2 and preds.shape[1] > 1:
        return preds.argmax(dim=1)
    return (preds.reshape(-1).sigmoid() > 0.5).long()


def batch_accuracy(preds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of right answers in one batch (the lesson's `batch_accuracy`, for any class count)."""
    return (predicted_classes(preds) == targets.reshape(-1)).float().mean()


class Metric:
    name = "metric"

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, preds: torch.Tensor, targets: torch.Tensor) -> None:
        n = len(targets)
        self.total += self.batch_value(preds, targets).item() * n
        self.count += n

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def batch_value(self, preds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Accuracy(Metric):
    name = "accuracy"

    def batch_value(self, preds, targets):
        return batch_accuracy(preds, targets)


class ErrorRate(Metric):
    name = "error_rate"

    def batch_value(self, preds, targets):
        return 1 - batch_accuracy(preds, targets)
