"""The Learner's figures, drawn as fastai draws them, into matplotlib's current figure (inline in Jupyter):
the learning curve, the learning-rate finder's curve and a batch of results.

matplotlib is imported when a figure is asked for, not with the Learner.
"""

from collections.abc import Sequence
from typing import Any

import torch


def plot_loss(
    losses: Sequence[float],
    iters: Sequence[int],
    valid: Sequence[float],
    skip_start: int = 5,
    log: bool = False,
    show_epochs: bool = False,
    ax: Any = None,
) -> Any:
    """The running training loss per batch from `skip_start` on, and the validation loss at each
    epoch's last batch (those past `skip_start`)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    steps = list(range(skip_start, len(losses)))
    (ax.loglog if log else ax.plot)(steps, list(losses)[skip_start:], label="train")
    for x in iters if show_epochs else ():
        ax.axvline(x, color="grey", ls=":")
    ax.set_ylabel("loss"), ax.set_xlabel("steps"), ax.set_title("learning curve")
    points = [(x, v) for x, v in zip(iters, valid, strict=False) if x >= skip_start]
    if valid:
        ax.plot([x for x, _ in points], [v for _, v in points], label="valid")
        ax.legend()
    return ax


def plot_lr_find(
    lrs: Sequence[float], losses: Sequence[float], points: Sequence[tuple[float, float]], names: Sequence[str]
) -> Any:
    """Loss against learning rate (log scale), the last 5 batches left out, each suggestion a dot."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 1)
    ax.plot(list(lrs)[:-5], list(losses)[:-5])
    ax.set_ylabel("Loss")
    ax.set_xlabel("Learning Rate")
    ax.set_xscale("log")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"][1:]
    for (lr, loss), name, color in zip(points, names, colors, strict=False):
        ax.plot(lr, loss, "o", label=f"{name}: {lr:.2g}", c=color)
    if points:
        ax.legend(loc="best")
    return fig


def show_results(
    xb: torch.Tensor, targets: torch.Tensor, predicted: torch.Tensor, max_n: int = 9, figsize: Any = None
) -> Any:
    """Up to `max_n` inputs as images, each titled with its label and, below, the model's answer:
    green where they agree, red where not (fastai's colours). Flat 784-pixel rows are drawn 28x28."""
    import matplotlib.pyplot as plt

    n = min(max_n, len(xb))
    cols = min(n, 3 if n <= 9 else 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=figsize or (cols * 2.5, rows * 2.8), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        ax.imshow(_as_image(xb[i]), cmap="Greys")
        right = int(targets[i]) == int(predicted[i])
        ax.set_title(f"{int(targets[i])}\n{int(predicted[i])}", color="green" if right else "red")
    return fig


def _as_image(x: torch.Tensor) -> Any:
    """(H,W), (1,H,W) or a flat row of a square image's pixels -> (H,W) for imshow."""
    x = x.detach().float().cpu().squeeze()
    if x.dim() == 1:
        side = int(len(x) ** 0.5)
        x = x.reshape(side, side) if side * side == len(x) else x[None]
    return x.numpy()
