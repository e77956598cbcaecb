"""Line charts as inline SVG, for the training report: no matplotlib in the process that trains.

Importing matplotlib and drawing two PNG charts took 1.2 s of the fast preset's 15 s command on
this VM; these charts are a few kilobytes of text, drawn in milliseconds, and scale in the browser.
"""

import html
import math

WIDTH, HEIGHT = 420, 240
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 14, 40  # margins for the axes' labels
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def line_chart(
    series: dict[str, tuple[list[float], list[float]]], xlabel: str, ylabel: str, log_y: bool = False
) -> str:
    """One SVG chart of named (xs, ys) series; `log_y` puts the y axis on a log scale (losses)."""
    points = {name: _finite(xs, ys, log_y) for name, (xs, ys) in series.items()}
    xs = [x for pts in points.values() for x, _ in pts] or [0.0, 1.0]
    ys = [y for pts in points.values() for _, y in pts] or [0.0, 1.0]
    x0, x1 = _span(min(xs), max(xs))
    y0, y1 = _span(min(ys), max(ys))

    def at(x: float, y: float) -> str:
        px = LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)
        py = HEIGHT - BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - TOP - BOTTOM)
        return f"{px:.1f},{py:.1f}"

    parts = [_axes(x0, x1, y0, y1, xlabel, ylabel, log_y)]
    for i, (name, pts) in enumerate(points.items()):
        colour = COLOURS[i % len(COLOURS)]
        marker = len(pts) <= 40  # a point per epoch is marked; a line per batch is not
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" '
            f'points="{" ".join(at(x, y) for x, y in pts)}"/>'
        )
        if marker:
            parts += [f'<circle cx="{at(x, y).split(",")[0]}" cy="{at(x, y).split(",")[1]}" r="2.5" '
                      f'fill="{colour}"/>' for x, y in pts]  # fmt: skip
        parts.append(
            f'<text x="{WIDTH - RIGHT - 4}" y="{TOP + 12 + 14 * i}" text-anchor="end" fill="{colour}" '
            f'font-size="11">{html.escape(name)}</text>'
        )
    body = "".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" font-family="sans-serif">{body}</svg>'
    )


def _finite(xs: list[float], ys: list[float], log_y: bool) -> list[tuple[float, float]]:
    """The points a chart can place: finite, and positive on a log scale (then as log10)."""
    pts = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True) if math.isfinite(x) and math.isfinite(y)]
    return [(x, math.log10(y)) for x, y in pts if y > 0] if log_y else pts


def _span(low: float, high: float) -> tuple[float, float]:
    return (low - 0.5, high + 0.5) if high - low < 1e-12 else (low, high)


def _axes(x0: float, x1: float, y0: float, y1: float, xlabel: str, ylabel: str, log_y: bool) -> str:
    """The frame, three labelled ticks on each axis, and the axes' names."""
    left, bottom, right, top = LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, TOP
    parts = [f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" '
             'stroke="#888"/>']  # fmt: skip
    for i in range(3):
        fx = x0 + (x1 - x0) * i / 2
        px = left + (right - left) * i / 2
        parts.append(
            f'<text x="{px:.1f}" y="{bottom + 14}" text-anchor="middle" font-size="10">{fx:.4g}</text>'
        )
        fy = y0 + (y1 - y0) * i / 2
        py = bottom - (bottom - top) * i / 2
        label = f"{10**fy:.3g}" if log_y else f"{fy:.3g}"
        parts.append(f'<text x="{left - 4}" y="{py + 3:.1f}" text-anchor="end" font-size="10">{label}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">'
                 f"{html.escape(xlabel)}</text>")  # fmt: skip
    parts.append(f'<text x="12" y="{(top + bottom) / 2}" text-anchor="middle" font-size="11" '
                 f'transform="rotate(-90 12 {(top + bottom) / 2})">{html.escape(ylabel)}</text>')  # fmt: skip
    return "".join(parts)


def loss_charts(history: dict[str, list[float]]) -> list[tuple[str, str]]:
    """(svg, caption) for the loss per batch and per epoch, and for the metrics per epoch."""
    batches = history.get("batch_loss", [])
    epochs = len(history.get("valid_loss", []))
    per_epoch = len(batches) / epochs if epochs else 1.0
    losses = {"train (per batch)": (list(range(1, len(batches) + 1)), batches)}
    if epochs:
        losses["valid"] = ([per_epoch * (i + 1) for i in range(epochs)], history["valid_loss"])
    metrics = {
        name: (list(range(1, len(values) + 1)), values)
        for name, values in history.items()
        if name not in ("batch_loss", "valid_loss", "train_loss", "lr", "time")
    }
    return [
        (
            line_chart(losses, "batch", "loss (log scale)", log_y=True),
            "training loss per batch, validation loss",
        ),
        (line_chart(metrics, "epoch", "metric"), "validation metrics per epoch"),
    ]


def lr_chart(lrs: list[float]) -> str:
    return line_chart({"learning rate": (list(range(1, len(lrs) + 1)), lrs)}, "batch", "learning rate")
