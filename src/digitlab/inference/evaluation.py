"""Scores of a model on labelled data: accuracy, per-class precision and recall, confusion, top losses."""

import contextlib
from dataclasses import dataclass, field

import torch

from digitlab.data import Dataset, Source, Splits
from digitlab.errors import DigitlabError
from digitlab.models import check_fits, predict_probs


@dataclass
class Evaluation:
    split: str
    n: int
    accuracy: float
    precision: list[float]  # per class: of the images predicted c, how many are c
    recall: list[float]  # per class: of the images of c, how many were found (per-class accuracy)
    confusion: list[list[int]]  # rows: true class, columns: predicted
    top_losses: list[dict]  # the most confidently wrong images
    classes: list = field(default_factory=list)  # each row's class: a name, or its number

    def name(self, c: int) -> str:
        """Class `c` as the outputs call it: its name ('cat'), or its number ('7')."""
        return str(self.classes[c]) if c < len(self.classes) else str(c)

    def most_confused(self, n: int = 5) -> list[tuple[int, int, int]]:
        """The `n` largest off-diagonal counts as (actual, predicted, count), largest first (fastai's
        `ClassificationInterpretation.most_confused`)."""
        pairs = [
            (actual, predicted, count)
            for actual, row in enumerate(self.confusion)
            for predicted, count in enumerate(row)
            if actual != predicted and count > 0
        ]
        return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))[:n]

    def to_json(self) -> dict:
        """`digitlab evaluate --json` (docs/cli.md), plus precision, confusion and top losses."""
        return {
            "accuracy": round(self.accuracy, 6),
            "n": self.n,
            "split": self.split,
            "per_class": {self.name(c): round(r, 6) for c, r in enumerate(self.recall)},
            "precision": {self.name(c): round(p, 6) for c, p in enumerate(self.precision)},
            "classes": [self.name(c) for c in range(len(self.recall))],
            "confusion": self.confusion,
            "top_losses": self.top_losses,
            "most_confused": [{"actual": a, "predicted": p, "count": c} for a, p, c in self.most_confused()],
        }


def final_split(splits: Splits) -> tuple[str, Dataset]:
    """Where a trained model is scored: the test split when it has labels, else valid."""
    if splits.test is not None and splits.test.labels is not None:
        return "test", splits.test
    return "valid", splits.valid


def evaluation_data(source: Source, classes: list | None = None) -> tuple[str, Dataset]:
    """What `digitlab evaluate` scores on: the source's test split, else all its labelled data.

    `classes`: the model's (model.json's); data with names must have the same names in the same order,
    data without take the model's (their labels are its output indices)."""
    split, dataset = ("test", source.test) if source.test is not None else ("all", source.train)
    if dataset.labels is None or len(dataset) == 0:
        raise DigitlabError(f"{source.name}: has no labelled images to evaluate on")
    return split, with_model_names(dataset, classes, f"{source.name} ({split})")


def with_model_names(data: Dataset, classes: list | None, where: str) -> Dataset:
    """`data` named `where` (in errors) and labelled with the model's class names (its own must match)."""
    return Dataset(data.images, data.labels, where, _model_names(data, classes, where))


def _model_names(data: Dataset, classes: list | None, where: str) -> tuple[str, ...] | None:
    """The names the scores use: the model's, which the data's own names (if any) must equal."""
    if classes is None:
        return data.classes
    names = tuple(c for c in classes if isinstance(c, str))
    if data.classes is not None and data.classes != names:
        wanted = f"the model's {list(names)!r:.200}" if names else "numbers, as the model's are"
        raise DigitlabError(f"{where}: its classes {list(data.classes)!r:.200} must be {wanted}")
    if names and data.labels is not None and (top := int(data.labels.max())) >= len(names):
        raise DigitlabError(
            f"{where}: has labels up to {top}, and the model {len(names)} classes {list(names)!r:.200}"
        )
    return names or None


def evaluate(
    model: torch.nn.Module, data: Dataset, split: str, n_top: int = 16
) -> tuple[Evaluation, torch.Tensor]:
    """The scores, and the probabilities they came from (N, classes).

    In full float32 on a GPU too: by default its convolutions round inputs to TF32 (10-bit
    mantissas), which can flip a borderline image, and a score should not depend on the device.
    In inference mode: no autograd bookkeeping at all (the probabilities are those of `torch.no_grad`, bit
    for bit, on a trained `fast` model's 10,000 test digits in batches of 1,000, 2,500 and 10,000)."""
    check_fits(model, data, data.name)
    with full_float32(), torch.inference_mode():
        probs = predict_probs(model, data.floats())
    return score(probs, data.labels, split, n_top, data.classes), probs


@contextlib.contextmanager
def full_float32():
    """TF32 off for cuDNN and matrix products inside (the settings are put back after)."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def score(
    probs: torch.Tensor, targets: torch.Tensor, split: str, n_top: int = 16, classes: tuple | None = None
) -> Evaluation:
    """Accuracy, precision, recall, confusion and top losses of `probs` (N,K) against `targets`;
    `classes` names the K classes (None: their numbers)."""
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
        list(classes) if classes is not None else list(range(n_classes)),
    )
