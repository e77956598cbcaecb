"""Every figure the project draws, as PNG bytes (matplotlib's Figure API: no global state)."""

import io
import math
from pathlib import Path

import torch
from matplotlib.figure import Figure

from digitlab.errors import plain
from digitlab.fileio import write_bytes_atomic
from digitlab.models.layers import unit_images


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def save_png(png: bytes, path: str | Path) -> None:
    write_bytes_atomic(path, png)


def image_grid(
    images: torch.Tensor,
    titles: list[str] | None = None,
    cols: int = 10,
    cmap: str = "gray",
    size: float = 1.1,
) -> bytes:
    """A grid of images (N,H,W) (MNIST's: 28x28), or colour's (N,3,H,W), each with an optional title."""
    images = images.detach().float().cpu()
    if images.ndim == 4:  # colour: pictures (N,H,W,3) in [0,1], as imshow takes them (0..255 or 0..1 given)
        images = (images / (255.0 if images.max() > 1 else 1.0)).clamp(0, 1).permute(0, 2, 3, 1)
    n = len(images)
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(cols * size, rows * size * (1.25 if titles else 1)))
    for i, img in enumerate(images):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(img.numpy(), cmap=cmap)
        ax.set_axis_off()
        if titles:
            ax.set_title(
                plain(titles[i]).replace("$", r"\$"), fontsize=8
            )  # a class name is text, not mathtext
    return to_png(fig)


def mean_digits(means: torch.Tensor, classes: list) -> bytes:
    """The class-mean images (C,H,W) of the pixel-similarity baseline."""
    return image_grid(means, [f"mean {c}" for c in classes], size=1.6)


def class_means(images: torch.Tensor, labels: torch.Tensor, names: tuple[str, ...] | None = None) -> bytes:
    """The mean image of every class present in a dataset (uint8 (N,H,W) images, int labels), titled
    by the classes' `names` when they have them."""
    classes = sorted(set(labels.tolist()))
    means = torch.stack([images[labels == c].float().mean(0) for c in classes])
    return mean_digits(means, [names[c] for c in classes] if names else classes)


def draw_weights(fig: Figure, weight: torch.Tensor, count: int = 30, cols: int = 6) -> None:
    """Rows of a first linear layer (out, 784) or conv filters (out,1,k,k) as images, on `fig`.

    Each unit gets its own symmetric scale (red positive, blue negative, white zero), so a
    unit with small weights is as readable as one with large weights; the colour bar shows
    that scale as a fraction of each unit's largest weight. `weights_figsize` sizes `fig` so
    that each tile is about 130 px wide at 90 dpi.
    """
    scaled, peak = unit_images(weight, count)
    rows = math.ceil(len(scaled) / cols)
    axes = fig.subplots(rows, min(cols, len(scaled)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(scaled):
            shown = ax.imshow(scaled[i].numpy(), cmap="bwr", vmin=-1, vmax=1)
            ax.set_title(f"unit {i}, |w| max {peak[i]:.2g}", fontsize=9)
    fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.8, label="weight / unit's largest |weight|")


def weights_figsize(count: int, cols: int = 6) -> tuple[float, float]:
    """Inches for `draw_weights`: 1.6 in a tile (a 28x28 image and its title), plus the colour bar."""
    n_cols, rows = min(cols, count), math.ceil(count / cols)
    return 1.6 * n_cols + 1.2, 1.75 * rows + 0.2


def lr_finder(lrs: list[float], losses: list[float], suggestion: float) -> bytes:
    fig = Figure(figsize=(4.5, 3))
    ax = fig.add_subplot()
    ax.plot(lrs, losses)
    ax.axvline(suggestion, color="red", ls="--", label=f"suggestion {suggestion:.2g}")
    ax.set_xscale("log"), ax.set_xlabel("learning rate"), ax.set_ylabel("loss"), ax.legend()
    return to_png(fig)


def draw_softmax(fig: Figure, probs: torch.Tensor, labels: torch.Tensor | None = None) -> None:
    """Softmax outputs of a few samples as bar charts, on `fig`: every row sums to 1."""
    probs = probs.detach().float().cpu()[:6]
    axes = fig.subplots(1, len(probs), sharey=True, squeeze=False)[0]
    for i, (ax, p) in enumerate(zip(axes, probs, strict=True)):
        ax.bar(range(len(p)), p.numpy())
        ax.set_ylim(0, 1), ax.set_xticks(range(0, len(p), 3 if len(p) > 5 else 1))
        ax.set_xlabel("class", fontsize=8)
        ax.set_title(f"label {int(labels[i])}" if labels is not None else f"sample {i}", fontsize=9)
    axes[0].set_ylabel("probability")
