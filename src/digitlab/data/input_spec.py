"""How an image becomes a model's input, as data: the steps of `decode` and `images` with their numbers.

The ONNX export carries this description so that a program in any language can make the inputs
digitlab makes (tests/modelfiles/test_onnx_contract.py does, from this description alone). Every number
is read from the constant the code itself uses, so the description cannot drift from the code.
"""

from digitlab.data.decode import EIGHT_BIT_GREY_MODES, GREY_MODES, WORKING_SIZE
from digitlab.data.images import (
    DENOISE_MIN_SIDE,
    DENOISE_NOISE,
    INK_BOX,
    INK_FLOOR,
    MIN_CONTRAST,
    MIN_INK_FRACTION,
    TOP_QUANTILE,
)

SPEC_VERSION = 1  # raised whenever a step or the meaning of a field changes
ROUNDING = "half to even (numpy's round, Python's round)"


Step = dict[str, object]
GREY_STEP: Step = {
    "step": "grey",
    "rule": "L = (19595 R + 38470 G + 7471 B + 32768) >> 16 on 0..255 (ITU-R 601-2 luma, Pillow's "
    "convert('L')), then / 255; 16-bit images / 65535; with transparency: (0.299 R + 0.587 G + 0.114 B) "
    "/ 255 laid by alpha / 255 on paper of 1 when the pixels of alpha > 127.5 average under 0.5 in grey, "
    "else on paper of 0 (all such pixels: no paper; none: all 0)",
}
# `decode.to_rgb`: a colour model's pictures keep their colours; nothing is made grey
RGB_STEP: Step = {
    "step": "rgb",
    "grey_modes": list(GREY_MODES),
    "grey_rule": GREY_STEP["rule"],
    "rule": "an image of one of grey_modes (Pillow's modes): grey_rule, its value repeated in R, G and B; "
    "else with transparency (a palette, an alpha channel or a transparent colour): RGBA / 255, then "
    "each of R, G, B = c * A + paper * (1 - A), paper 1 when the pixels of A > 0.5 average under 0.5 "
    "in 0.299 R + 0.587 G + 0.114 B, else 0 (none such pixels: 0); else Pillow's convert('RGB') / 255",
}


def decode_steps(channels: int = 1) -> list[dict[str, object]]:
    """Any file to one float image in [0,1], grey (H,W) or, for a colour model, RGB (H,W,3): the steps
    every preprocessing starts with."""
    return [
        {"step": "decode", "rule": f"the first frame; a JPEG over {2 * WORKING_SIZE} px a side decoded at "
         f"libjpeg's reduced scale (to no less than {2 * WORKING_SIZE})"},
        {"step": "reduce", "rule": f"factor = longer side // {2 * WORKING_SIZE}; when factor >= 2, each "
         "factor x factor block averaged (Pillow's Image.reduce); then the EXIF orientation applied"},
        GREY_STEP if channels == 1 else RGB_STEP,
    ]  # fmt: skip


def mnist_steps(size: tuple[int, int]) -> list[dict[str, object]]:
    """The MNIST-style steps (`images.to_mnist`): ink found, cropped, scaled into a box and centred."""
    box = max(1, round(INK_BOX * min(size)))
    return [
        {"step": "shrink", "max_side": WORKING_SIZE, "rule": "when the longer side is over max_side, resize "
         "so it is max_side: scale = max_side / longer, each side max(1, round(side * scale)), box filter "
         "(Pillow's BOX, on floats)"},
        {"step": "denoise", "min_side": DENOISE_MIN_SIDE, "border_noise": DENOISE_NOISE,
         "rule": "when the shorter side >= min_side and the mean absolute difference between neighbours "
         "along the border (top row, bottom row, left column, right column, joined in that order) is "
         "over border_noise: each pixel's 3x3 median, edges repeated"},
        {"step": "polarity", "rule": "when the median of the border pixels is over 0.5: x = 1 - x "
         "(dark ink on light paper becomes white ink on black)"},
        {"step": "ink", "top_quantile": TOP_QUANTILE, "min_contrast": MIN_CONTRAST, "floor": INK_FLOOR,
         "min_ink_fraction": MIN_INK_FRACTION,
         "rule": "paper = median of the border pixels, top = the top_quantile of all pixels (linear "
         "interpolation); blank when top - paper < min_contrast; else ink = clip((x - paper) / "
         "(top - paper), 0, 1), values under floor set to 0; blank when fewer than max(2, "
         "min_ink_fraction * pixels) are non-zero"},
        {"step": "crop", "rule": "to the rows and columns holding non-zero ink"},
        {"step": "fit", "box": box, "rule": "resize so the longer side is box: scale = box / longer, "
         "each side max(1, round(side * scale)), Lanczos (Pillow's LANCZOS, on floats), then negative "
         "values set to 0"},
        {"step": "centre", "frame": list(size), "rule": "cy, cx = the ink-weighted mean row and column; "
         "top = clip(round(height / 2 - cy), 0, height - h), left = clip(round(width / 2 - cx), 0, "
         f"width - w); placed in a zero frame; rounding {ROUNDING}"},
        {"step": "uint8", "rule": f"round(x / max(x) * 255), rounding {ROUNDING}"},
    ]  # fmt: skip


def as_is_steps(size: tuple[int, int], channels: int = 1) -> list[dict[str, object]]:
    """The as-is steps (`images.as_input`): the picture itself, only resized; a grey one in 8 bits, as
    a plain Pillow loop does (`decode.grey_image`), a colour one channel by channel on floats."""
    if channels == 3:
        return [
            {"step": "resize", "size": list(size), "rule": "each channel (R, G, B) on its own to height x "
             "width, bilinear (Pillow's BILINEAR, on floats)"},
            {"step": "uint8", "rule": f"round(clip(x, 0, 1) * 255), rounding {ROUNDING}"},
        ]  # fmt: skip
    return [
        {"step": "uint8", "eight_bit_modes": list(EIGHT_BIT_GREY_MODES), "rule": "an image of one of "
         "eight_bit_modes (Pillow's modes) without transparency: Pillow's convert('L') itself, the "
         f"grey step's L before / 255; any other: round(x * 255) of the grey step, rounding {ROUNDING}"},
        {"step": "resize", "size": list(size), "rule": "the uint8 grey image to height x width, bilinear "
         "(Pillow's BILINEAR on the 8-bit 'L' image: its result is the image)"},
    ]  # fmt: skip


LAYOUTS = {  # from the uint8 image the steps make to the model's input tensor `image` [N,C,H,W]
    1: "the uint8 (H,W) image is image[n, 0]",
    3: "the uint8 (H,W,3) image, channels last, is transposed to (3,H,W): image[n, c] = x[:, :, c], "
    "c = 0 red, 1 green, 2 blue",
}


def input_spec(preprocessing: str, size: tuple[int, int], channels: int = 1) -> dict[str, object]:
    """The whole description: the steps from a file to the uint8 (H,W) image (colour: (H,W,3), read as
    RGB, never made grey), then the model's input."""
    made = mnist_steps(size) if preprocessing == "mnist" else as_is_steps(size, channels)
    return {
        "version": SPEC_VERSION,
        "preprocessing": preprocessing,
        "size": list(size),  # (height, width)
        "channels": channels,
        "blank": "an image the ink step finds blank has no input: digitlab answers no class for it"
        if preprocessing == "mnist"
        else "no image is blank",
        "steps": [*decode_steps(channels), *made],
        "layout": LAYOUTS[channels],
        "pixel_scale": 1 / 255,  # the uint8 image times this is the model's input, float32 in [0,1]
    }
