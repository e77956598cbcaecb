"""The small helpers the lesson's code calls, named as fastai names them (`show_image`, `first`, `tensor`).

They draw with pyplot, so in Jupyter every figure shows inline under its cell; the terminal
lesson collects the same figures into lesson.html.
"""

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch
from matplotlib import pyplot as plt

from digitlab.report.figures import draw_softmax, draw_weights, weights_figsize


def tensor(x, *rest) -> torch.Tensor:
    """A tensor from a list, an array, a DataFrame, a Series or numbers: `tensor(1, 2, 3)` too."""
    if rest:
        x = (x, *rest)
    if isinstance(x, torch.Tensor):
        return x
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    if isinstance(x, np.ndarray):  # shares memory, unless the array is read-only (pandas >= 3)
        return torch.from_numpy(x if x.flags.writeable else x.copy())
    return torch.tensor(x)


def first(items: Iterable):
    """The first item of anything iterable (a DataLoader's first batch, say)."""
    return next(iter(items))


def show_image(im, ax=None, cmap=None, figsize=None, title=None, **kwargs):
    """Draw one image, (H,W) or (1,H,W) or (3,H,W), without axes; returns the Axes."""
    im = torch.as_tensor(im).detach().float().cpu()
    if im.ndim == 3:
        im = im[0] if im.shape[0] == 1 else im.permute(1, 2, 0)
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.imshow(im.numpy(), cmap=cmap or "gray", **kwargs)
    if title is not None:
        ax.set_title(title)
    ax.set_axis_off()
    return ax


def show_images(ims, nrows: int = 1, ncols: int | None = None, titles=None, figsize=None, **kwargs):
    """Several images in a grid; returns the Axes."""
    ncols = ncols or math.ceil(len(ims) / nrows)
    _, axes = plt.subplots(nrows, ncols, figsize=figsize or (1.6 * ncols, 1.8 * nrows), squeeze=False)
    titles = titles or [None] * len(ims)
    for ax, im, title in zip(axes.flat, ims, titles, strict=False):
        show_image(im, ax=ax, title=title, **kwargs)
    for ax in axes.flat[len(ims) :]:
        ax.set_axis_off()
    return axes


def plot_function(f: Callable, xmin: float = -2, xmax: float = 2, title=None, xlabel="x", ylabel="f(x)"):
    """Plot f over [xmin, xmax], with its axes labelled; returns the Axes."""
    x = torch.linspace(xmin, xmax, 200)
    _, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(x.numpy(), f(x).detach().numpy())
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


def show_weights(weight: torch.Tensor, count: int = 30):
    """Each hidden unit's incoming weights as a 28x28 image, each on its own scale, with a colour bar."""
    fig = plt.figure(figsize=weights_figsize(min(count, len(weight))), layout="constrained")
    draw_weights(fig, weight, count)
    return fig


def show_probs(probs: torch.Tensor, labels: torch.Tensor | None = None):
    """Bar charts of a few rows of probabilities, axes labelled."""
    fig = plt.figure(figsize=(2.2 * min(len(probs), 6), 2.4), layout="constrained")
    draw_softmax(fig, probs, labels)
    return fig


class BesideTheNotes:
    """Each figure the lesson measures that the notes also report, printed beside the notes' value
    with why the two differ; `table()` lists them all again at the end, from the same records."""

    def __init__(self, pair: tuple[int, int] = (0, 1)):
        self.rows: list[tuple[str, float, float, str]] = []
        self.same_task = tuple(pair) == (0, 1)  # the notes' two-digit figures are for 0 and 1

    def compare(self, what: str, measured, notes: float, why: str, two_digit: bool = True) -> float:
        """Print `what: here X, notes Y (why)`; returns X as a float. Two-digit figures are only
        compared when the lesson's pair is the notes' 0 and 1."""
        value = float(measured.detach() if isinstance(measured, torch.Tensor) else measured)
        if two_digit and not self.same_task:
            print(f"{what}: here {_shown(value)} (the notes measured 0 and 1; this run uses another pair)")
            return value
        self.rows.append((what, value, notes, why))
        print(f"{what}: here {_shown(value)}, notes {_shown(notes)} ({why})")
        return value

    def table(self) -> None:
        """Every comparison made above, in order, as one table."""
        width = max((len(r[0]) for r in self.rows), default=10)
        print(f"{'figure':<{width}}  {'here':>7}  {'notes':>7}")
        for what, value, notes, _ in self.rows:
            print(f"{what:<{width}}  {_shown(value):>7}  {_shown(notes):>7}")


def _shown(value: float) -> str:
    """A count as a whole number, any other figure to four decimals."""
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 2 else f"{value:.4f}"


def show_maps(maps, titles, ncols: int = 4, pictures: Iterable[int] = ()):
    """Attribution maps (each 784 numbers or 28x28) on a blue-white-red scale centred on zero, each
    with its own colour bar: red pushed towards the class named in the title, blue away. The items
    at the indices `pictures` are images, drawn in grey."""
    pictures = set(pictures)
    nrows = math.ceil(len(maps) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 2.7 * nrows), squeeze=False)
    for i, (ax, values, title) in enumerate(zip(axes.flat, maps, titles, strict=False)):
        values = torch.as_tensor(values).detach().float().reshape(28, 28)
        if i in pictures:
            ax.imshow(values.numpy(), cmap="gray")
        else:
            limit = float(values.abs().max()) or 1.0
            shown = ax.imshow(values.numpy(), cmap="bwr", vmin=-limit, vmax=limit)
            fig.colorbar(shown, ax=ax, shrink=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    for ax in axes.flat[len(maps) :]:
        ax.set_axis_off()
    return fig
