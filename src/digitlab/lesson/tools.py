"""The small helpers the lesson's code calls, named as fastai names them (`show_image`, `first`, `tensor`).

They draw with pyplot, so in Jupyter every figure shows inline under its cell; the terminal
lesson collects the same figures into lesson.html.
"""

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch
from matplotlib import pyplot as plt

from digitlab.report.figures import draw_softmax, draw_weights


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
    n = min(count, len(weight))
    fig = plt.figure(figsize=(12, 1.5 * math.ceil(n / 10) + 0.5))
    draw_weights(fig, weight, count)
    return fig


def show_probs(probs: torch.Tensor, labels: torch.Tensor | None = None):
    """Bar charts of a few rows of probabilities, axes labelled."""
    fig = plt.figure(figsize=(2.2 * min(len(probs), 6), 2.4), layout="constrained")
    draw_softmax(fig, probs, labels)
    return fig
