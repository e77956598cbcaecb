"""Scores of a model on labelled data: accuracy, per-class precision and recall, confusion, top losses."""

from dataclasses import dataclass

import torch

from digitlab.data import DataLoader, Dataset
from digitlab.train.learner import to_probs


@dataclass
class Evaluation:
    split: str
    n: int
    accuracy: float
    precision: list[float]  # per class: of the images predicted c, how many are c
    recall: list[float]  # per class: of the images of c, how many were found (per-class accuracy)
    confusion: list[list[int]]  # rows: true class, columns: predicted
    top_losses: list[dict]  # the most confidently wrong images

    def to_json(self) -> dict:
        """The form of `digitlab evaluate --json` (see CLI.md), plus precision, confusion and top losses."""
        return {
            "accuracy": round(self.accuracy, 6),
            "n": self.n,
            "split": self.split,
            "per_class": {str(c): round(r, 6) for c, r in enumerate(self.recall)},
            "precision": {str(c): round(p, 6) for c, p in enumerate(self.precision)},
            "confusion": self.confusion,
            "top_losses": self.top_losses,
        }


@torch.no_grad()
def predict_probs(
    model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Class probabilities for float images (N,1,28,28), in eval mode and in order."""
    model.eval()
    dl = DataLoader(x, torch.zeros(len(x)), batch_size)
    return torch.cat([to_probs(model(xb.to(device)).float()).cpu() for xb, _ in dl])


def evaluate(
    model: torch.nn.Module, data: Dataset, split: str, device: str | torch.device = "cpu", n_top: int = 16
) -> tuple[Evaluation, torch.Tensor]:
    """The scores, and the probabilities they came from (N, classes)."""
    probs = predict_probs(model, data.floats(), device=device)
    return score(probs, data.labels, split, n_top), probs


def score(probs: torch.Tensor, targets: torch.Tensor, split: str, n_top: int = 16) -> Evaluation:
    n_classes = probs.shape[1]
    preds = probs.argmax(1)
    confusion = torch.bincount(targets * n_classes + preds, minlength=n_classes**2).reshape(n_classes, -1)
    diag = confusion.diag().float()
    recall = (diag / confusion.sum(1).clamp_min(1)).tolist()
    precision = (diag / confusion.sum(0).clamp_min(1)).tolist()
    losses = -probs[torch.arange(len(targets)), targets].clamp_min(1e-12).log()
    wrong = torch.nonzero(preds != targets).flatten()
    order = wrong[losses[wrong].argsort(descending=True)][:n_top]
    top = [
        {
            "index": int(i),
            "label": int(targets[i]),
            "predicted": int(preds[i]),
            "probability": round(float(probs[i, preds[i]]), 4),
            "loss": round(float(losses[i]), 4),
        }
        for i in order
    ]
    return Evaluation(
        split,
        len(targets),
        (preds == targets).float().mean().item(),
        precision,
        recall,
        confusion.tolist(),
        top,
    )
