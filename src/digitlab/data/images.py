"""Turn any photo, scan or drawing of a digit into what MNIST looks like.

MNIST digits are white ink on black, the ink scaled to fit a 20x20 box (aspect ratio
kept) and placed in a 28x28 frame so that its centre of mass sits in the middle. One
function does that for the CLI, the reports, the image-folder reader and the web app; for a
model of another input size, the frame is that size and the box in the same proportion.
"""

import numpy as np
from PIL import Image

from digitlab.data.decode import WORKING_SIZE, grey_image, to_grayscale, to_rgb

MIN_CONTRAST = 0.15  # ink must differ this much (of the full range) from the paper
MIN_INK_FRACTION = 0.0005  # fewer ink pixels than this means a blank image
INK_FLOOR = 0.2  # ink fainter than this is paper texture, JPEG ringing or noise
TOP_QUANTILE = 0.999  # the ink's full strength: all but the brightest 0.1% (a hot pixel does not set it)
DENOISE_MIN_SIDE, DENOISE_NOISE = 64, 0.02  # a photo this large whose paper varies this much gets a median
INK_BOX = 20 / 28  # MNIST scaled each digit into 20x20 of its 28x28 frame


def to_mnist(image: Image.Image, name: str = "image", size: tuple[int, int] = (28, 28)) -> np.ndarray | None:
    """The 28x28 (or `size`: height, width) uint8 MNIST-style version of `image`, or None when it
    holds no digit."""
    gray = _shrink(to_grayscale(image, name), WORKING_SIZE)
    # a noisy photo or scan: drop speckles
    if min(gray.shape) >= DENOISE_MIN_SIDE and _border_noise(gray) > DENOISE_NOISE:
        gray = median3(gray)
    ink = _ink(gray)
    if ink is None:
        return None
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _center(_fit_box(ink, max(1, round(INK_BOX * min(size)))), size)


def as_input(
    image: Image.Image, name: str = "image", size: tuple[int, int] = (28, 28), channels: int = 1
) -> np.ndarray:
    """`image` as it is, resized to `size` (height, width): for a model trained on images that are not
    MNIST-style (nothing cropped, centred or inverted). uint8 (H,W) grey, or (H,W,3) RGB for
    `channels` 3 (a grey image's grey repeated), laid out as a picture is. Grey is resized in 8 bits
    by Pillow, as a plain PIL loop would, so no image's pixels go to numpy before the small result."""
    if channels == 1:
        return np.asarray(grey_image(image, name).resize((size[1], size[0]), Image.Resampling.BILINEAR))
    planes = list(to_rgb(image, name).transpose(2, 0, 1))
    resized = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(p), mode="F").resize(
                (size[1], size[0]), Image.Resampling.BILINEAR
            )
        )
        for p in planes
    ]
    return np.asarray(np.round(np.clip(np.stack(resized, -1), 0, 1) * 255), np.uint8)


def _shrink(gray: np.ndarray, size: int) -> np.ndarray:
    """Average down so the longer side is at most `size`: big photos get fast and less noisy."""
    h, w = gray.shape
    if max(h, w) <= size:
        return gray
    scale = size / max(h, w)
    small = Image.fromarray(gray, mode="F").resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX
    )
    return np.asarray(small, np.float32)


# The compare-and-swap pairs of a sorting network that leaves the median of 9 values in position 4.
MEDIAN9_SWAPS = ((1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8),
                 (0, 3), (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2))  # fmt: skip


def median3(gray: np.ndarray) -> np.ndarray:
    """Each pixel's 3x3 median (edges repeated), as whole-image minima and maxima.

    The same values as PIL's `MedianFilter(3)`, which on float images is about 5x slower.
    """
    h, w = gray.shape
    padded = np.pad(gray, 1, mode="edge")
    v = [padded[i : i + h, j : j + w] for i in range(3) for j in range(3)]
    for a, b in MEDIAN9_SWAPS:
        v[a], v[b] = np.minimum(v[a], v[b]), np.maximum(v[a], v[b])
    return v[4]


def _border_noise(gray: np.ndarray) -> float:
    """How much the paper varies pixel to pixel along the border (0 for a clean canvas)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.abs(np.diff(border)).mean())


def quantile(values: np.ndarray, q: float) -> float:
    """`np.quantile(values, q)` (its default, linear rule) from one partial sort. numpy's own function
    spends ~0.2 ms checking its arguments, more than the sort of a small image takes."""
    flat = values.reshape(-1)
    position = q * (len(flat) - 1)
    low = int(position)
    high = min(low + 1, len(flat) - 1)
    part = np.partition(flat, (low, high))
    below, above = float(part[low]), float(part[high])
    return below + (above - below) * (position - low)


def _ink(gray: np.ndarray) -> np.ndarray | None:
    """Ink intensity in [0,1] on a zero background, or None if there is no ink."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if quantile(border, 0.5) > 0.5:  # dark ink on light paper: flip to MNIST's polarity
        gray, border = 1 - gray, 1 - border
    paper = quantile(border, 0.5)
    top = quantile(gray, TOP_QUANTILE)
    if top - paper < MIN_CONTRAST:
        return None
    ink = np.clip((gray - paper) / (top - paper), 0, 1)
    ink[ink < INK_FLOOR] = 0
    if np.count_nonzero(ink) < max(2, MIN_INK_FRACTION * ink.size):
        return None
    return ink


def _fit_box(ink: np.ndarray, box: int) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio."""
    h, w = ink.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = float_image(ink).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(np.maximum(float_pixels(resized), 0), np.float32)


def float_image(array: np.ndarray) -> Image.Image:
    """A float32 (H,W) array as a Pillow "F" image: `Image.fromarray(array, mode="F")` without its
    checks of the array interface, which cost more than the small images here."""
    data = np.ascontiguousarray(array, np.float32)
    return Image.frombuffer("F", (data.shape[1], data.shape[0]), data, "raw", "F", 0, 1)


def float_pixels(image: Image.Image) -> np.ndarray:
    """An "F" image's pixels, float32 (H,W): `np.asarray(image)` without the array interface's checks."""
    return np.frombuffer(image.tobytes(), np.float32).reshape(image.height, image.width)


def _center(ink: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Place in a frame of `size` (28x28 for MNIST) with the centre of mass in the middle, as MNIST
    was made."""
    h, w = ink.shape
    rows, cols = ink.sum(1), ink.sum(0)  # the mass of each row and column: two small dot products
    total = rows.sum()
    cy, cx = rows @ np.arange(h) / total, cols @ np.arange(w) / total
    top = min(max(round(size[0] / 2 - cy), 0), size[0] - h)  # Python's min and max: np.clip of
    left = min(max(round(size[1] / 2 - cx), 0), size[1] - w)  # one number costs 10 times theirs
    frame = np.zeros(size, np.float32)
    frame[top : top + h, left : left + w] = ink
    return np.asarray(np.round(frame / frame.max() * 255), np.uint8)
