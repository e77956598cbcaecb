"""Handwriting unlike MNIST's: test digits re-rendered as people hand them over, to score models on.

MNIST's digits are centred, 20 px tall, of one stroke width. A photo of paper or a drawing app's
export is none of those: large, off-centre, noisy, JPEG-compressed, with thicker or thinner ink.
The prediction path (`to_mnist`) undoes size and position; what it cannot undo, the model must
have learnt, and these sets measure it.
"""

import io

import numpy as np
from PIL import Image, ImageFilter

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
    """Per kind, the share of images the predictor (digitlab.predict.Predictor) gets right."""
    right = {
        k: [predictor.predict_image(im).digit == y for im, y in zip(ims, labels, strict=True)]
        for k, ims in sets.items()
    }
    return {kind: float(np.mean(hits)) for kind, hits in right.items()}
