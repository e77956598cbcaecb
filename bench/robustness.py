"""Handwriting unlike MNIST's: test digits re-rendered as people hand them over, to score models on.

MNIST's digits are centred, 20 px tall, of one stroke width. A photo of paper or a drawing app's
export is none of those: large, off-centre, noisy, JPEG-compressed, with thicker or thinner ink.
The prediction path (`to_mnist`) undoes size and position; what it cannot undo, the model must
have learnt, and these sets measure it.
"""

import io
import statistics
import tempfile

import numpy as np
from PIL import Image, ImageFilter

from bench.timing import command_line
from digitlab.data import load_source
from digitlab.inference.predictor import Predictor
from digitlab.run.api import train as train_model
from digitlab.run.settings import TrainConfig

KINDS = ("photo", "canvas", "thick", "thin")


def as_people_hand_it_over(digit: np.ndarray, rng: np.random.Generator, kind: str) -> Image.Image:
    """One MNIST digit (28x28 uint8) drawn large and off-centre: `kind` is one of KINDS.

    photo: dark ink on light, noisy paper, saved as JPEG; canvas: black strokes on a transparent
    background; thick and thin: a canvas whose strokes were widened or narrowed by 4/3 of an
    MNIST pixel (a marker, or a fine pen).
    """
    size = int(rng.integers(120, 320))
    ink = Image.fromarray(digit)
    if kind in ("thick", "thin"):  # a 5-pixel filter at 3x scale: strokes change by 4/3 MNIST pixels
        ink = ink.resize((84, 84), Image.Resampling.BICUBIC)
        ink = ink.filter(ImageFilter.MaxFilter(5) if kind == "thick" else ImageFilter.MinFilter(5))
    ink = ink.resize((size, size), Image.Resampling.BICUBIC)
    canvas_w, canvas_h = size + int(rng.integers(40, 300)), size + int(rng.integers(40, 300))
    left, top = int(rng.integers(0, canvas_w - size)), int(rng.integers(0, canvas_h - size))
    alpha = np.zeros((canvas_h, canvas_w), np.float32)
    alpha[top : top + size, left : left + size] = np.asarray(ink, np.float32) / 255
    if kind != "photo":
        rgba = np.zeros((canvas_h, canvas_w, 4), np.uint8)
        rgba[..., 3] = (alpha * 255).astype(np.uint8)
        return Image.fromarray(rgba, "RGBA")
    paper = 235 - 200 * alpha + rng.normal(0, 12, alpha.shape)
    photo = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).convert("RGB")
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=int(rng.integers(50, 90)))
    return Image.open(io.BytesIO(buf.getvalue()))


def rendered_sets(images: np.ndarray, seed: int = 0) -> dict[str, list[Image.Image]]:
    """Every image rendered once per kind (the same seed gives the same sets for every model)."""
    rng = np.random.default_rng(seed)
    return {kind: [as_people_hand_it_over(img, rng, kind) for img in images] for kind in KINDS}


def accuracies(predictor, sets: dict[str, list[Image.Image]], labels: np.ndarray) -> dict[str, float]:
    """Per kind, the share of images the predictor (digitlab.inference.predictor.Predictor) gets right."""
    right = {
        k: [predictor.predict_image(im).digit == y for im, y in zip(ims, labels, strict=True)]
        for k, ims in sets.items()
    }
    return {kind: float(np.mean(hits)) for kind, hits in right.items()}


def section(n: int = 2000, command: str = "") -> str:
    """`fast` (3 seeds) against `default` (seed 0) on test digits re-rendered as people hand them over."""
    test = load_source("mnist").test
    images, labels = test.images[-n:].numpy(), test.labels[-n:].numpy()
    sets = rendered_sets(images)
    rows, scores = [], {}
    for preset, seed in [("default", 0), ("fast", 0), ("fast", 1), ("fast", 2)]:
        with tempfile.TemporaryDirectory() as model_dir:
            train_model(TrainConfig(preset=preset, seed=seed, out=model_dir), quiet=True)
            predictor = Predictor.load(model_dir)
            acc = {"mnist": float((predictor.probs(images).argmax(1).numpy() == labels).mean())}
            acc |= accuracies(predictor, sets, labels)
        scores[(preset, seed)] = acc
        rows.append(f"| {preset} | {seed} | " + " | ".join(f"{acc[k]:.4f}" for k in acc) + " |")
    fast_mean = {k: statistics.mean(scores[("fast", s)][k] for s in range(3)) for k in scores[("default", 0)]}
    gaps = ", ".join(f"{k} {100 * (fast_mean[k] - v):+.2f}" for k, v in scores[("default", 0)].items())
    kinds = " | ".join(["MNIST", *KINDS])
    run = command_line(command)
    return (
        "## Handwriting unlike MNIST's: fast against default\n\n" + run + f"The last {n:,} official test "
        "digits, each re-rendered four ways by `bench.robustness` (photo: dark ink on noisy paper, "
        "large and off-centre, JPEG; canvas: a drawing app's transparent export; thick and thin: a canvas "
        "drawn with a pen 4/3 of an MNIST pixel wider or narrower), predicted through the same path as "
        "`digitlab predict` (MNIST-style centring and scaling first). Models trained here, in this run.\n\n"
        f"| preset | seed | {kinds} |\n|---|---|"
        + "---|" * (len(KINDS) + 1)
        + "\n"
        + "\n".join(rows)
        + f"\n\nfast (mean of 3 seeds) minus default, in points: {gaps}.\n"
    )
