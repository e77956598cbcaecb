"""`as_input`: an 8-bit image is greyed and resized by Pillow alone, as a plain PIL loop does it;
other modes go through `to_grayscale`'s floats first, rounded to 8 bits."""

import numpy as np
import pytest
from PIL import Image

from digitlab.data.decode import grey_image, to_grayscale
from digitlab.data.images import as_input


def _picture(mode: str) -> Image.Image:
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(rng.random((37, 53)) < 0.5, 255, 0)  # opaque ink, transparent paper
    return Image.fromarray(rgba, "RGBA").convert(mode)


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK", "1"])
def test_eight_bit_images_are_resized_as_a_plain_pil_loop_does(mode):
    image = _picture(mode)
    plain = np.asarray(image.convert("L").resize((20, 28), Image.Resampling.BILINEAR))
    assert np.array_equal(as_input(image, size=(28, 20)), plain)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "I;16", "F", "P"])
def test_other_modes_are_greyed_as_to_grayscale_does_then_rounded(mode):
    image = _picture(mode)
    floats = to_grayscale(image)
    grey = grey_image(image)
    assert grey.mode == "L" and grey.size == image.size
    # one rounding of values in [0, 255]: half a level at most
    assert np.abs(np.asarray(grey, np.float32) - floats * 255).max() <= 0.5
