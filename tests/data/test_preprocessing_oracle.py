"""`to_mnist` reads and makes its pixels without the array interface's checks (float_image,
float_pixels, the grey bytes as they are): the same pixels, bit for bit, as the way it did before,
kept here as the oracle."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from digitlab.data import images
from digitlab.data.decode import to_grayscale
from digitlab.data.images import INK_BOX, to_mnist


def grey_before(image: Image.Image) -> np.ndarray:
    return np.asarray(ImageOps.exif_transpose(image).convert("L"), dtype=np.float32) / 255


def fit_box_before(ink: np.ndarray, box: int) -> np.ndarray:
    h, w = ink.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, np.float32), 0, None)


def center_before(ink: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = ink.shape
    rows, cols = ink.sum(1), ink.sum(0)
    total = rows.sum()
    cy, cx = rows @ np.arange(h) / total, cols @ np.arange(w) / total
    top = int(np.clip(round(size[0] / 2 - cy), 0, size[0] - h))
    left = int(np.clip(round(size[1] / 2 - cx), 0, size[1] - w))
    frame = np.zeros(size, np.float32)
    frame[top : top + h, left : left + w] = ink
    return np.asarray(np.round(frame / frame.max() * 255), np.uint8)


def to_mnist_before(image: Image.Image, size: tuple[int, int]) -> np.ndarray | None:
    """The pipeline as it was, for the small clean images below (no shrinking, no denoising)."""
    ink = images._ink(grey_before(image))
    if ink is None:
        return None
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return center_before(fit_box_before(ink, max(1, round(INK_BOX * min(size)))), size)


def handed_over(digit: np.ndarray, i: int) -> Image.Image:
    """An MNIST digit as people hand it over: dark on white, grey or RGB, resized, some off-centre."""
    side = (40, 56, 90)[i % 3]
    image = Image.fromarray(255 - digit).resize((side, side + 7 * (i % 2)), Image.Resampling.BILINEAR)
    if i % 4 == 1:  # off-centre on a wider page
        page = Image.new("L", (side + 30, side + 7 * (i % 2)), 255)
        page.paste(image, (i % 30, 0))
        image = page
    return image.convert("RGB") if i % 5 == 0 else image


@pytest.mark.parametrize("size", [(28, 28), (32, 24)])
def test_to_mnist_makes_the_same_pixels_as_before(mnist, size):
    made = 0
    for i, digit in enumerate(mnist.test.images[:200].numpy()):
        image = handed_over(digit, i)
        assert np.array_equal(to_grayscale(image), grey_before(image))
        before, now = to_mnist_before(image, size), to_mnist(image, size=size)
        assert (before is None) == (now is None)
        if now is not None:
            assert now.dtype == np.uint8 and np.array_equal(now, before), i
            made += 1
    assert made >= 195  # blank images are rare among MNIST digits: the comparison is not vacuous
