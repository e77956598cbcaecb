"""Attribution maps drawn: a figure with colour bars for files and reports, half-block cells for a terminal
(`half_blocks` draws any small image that way: the lesson's figures too).

Every map is drawn on a diverging scale centred on zero (matplotlib's "bwr"): red pushed towards
the class, blue away from it, white did nothing; the scale is the map's largest |value|.
"""

import io

import numpy as np
from rich.text import Text

from digitlab.errors import plain
from digitlab.inference.explanation import Explanation

RED, WHITE, BLUE = np.array([1.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0])


def centred_colours(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """(...,) values -> (...,3) RGB in 0..1 on matplotlib's "bwr" scale, white at 0 and full red or blue
    at +-`limit` (default: the largest |value|)."""
    limit = limit or float(np.abs(values).max()) or 1.0
    v = np.clip(values / limit, -1, 1)[..., None]
    return np.where(v > 0, WHITE + v * (RED - WHITE), WHITE - v * (BLUE - WHITE))


def terminal_map(attribution: np.ndarray, digit_image: np.ndarray, colour: bool = True) -> Text:
    """The map in 14 lines of 28 cells, two pixel rows per line (of any size: H/2 lines of W). In
    colour: half blocks on the centred scale, dark where there is no ink and no effect. Without colour:
    `#`/`+` towards, `=`/`-` away (strong/weak), `.` ink that did little, blank nothing. A colour
    image (H,W,3) counts as ink where any channel is lit."""
    if digit_image.ndim == 3:
        digit_image = digit_image.max(-1)
    if len(attribution) % 2:  # an odd number of rows: a blank one below, so that every line has two
        attribution, digit_image = (np.pad(a, ((0, 1), (0, 0))) for a in (attribution, digit_image))
    height, width = attribution.shape
    limit = float(np.abs(attribution).max()) or 1.0
    quiet = (digit_image == 0) & (np.abs(attribution) < 0.02 * limit)
    text = Text()
    if not colour:
        for top in range(0, height, 2):
            for col in range(width):
                pair = attribution[top : top + 2, col]
                v = pair[np.abs(pair).argmax()] / limit
                ink = (digit_image[top : top + 2, col] > 0).any()
                text.append("#" if v > 0.4 else "+" if v > 0.1 else "=" if v < -0.4 else "-" if v < -0.1
                            else "." if ink else " ")  # fmt: skip
            text.append("\n")
        return text
    rgb = (centred_colours(attribution) * 255).astype(int)
    rgb[quiet] = (30, 30, 30)
    return half_blocks(rgb)


def half_blocks(rgb: np.ndarray) -> Text:
    """(H,W,3) colours 0..255, H even, as H/2 lines of W upper-half blocks: each character cell
    shows two pixels, the upper one as its foreground and the lower one as its background."""
    text = Text()
    for top in range(0, len(rgb) - 1, 2):
        for col in range(rgb.shape[1]):
            (r1, g1, b1), (r2, g2, b2) = rgb[top, col], rgb[top + 1, col]
            text.append("▀", style=f"rgb({r1},{g1},{b1}) on rgb({r2},{g2},{b2})")
        text.append("\n")
    return text


def explanation_png(explanation: Explanation, digit_image: np.ndarray, title: str = "") -> bytes:
    """The input, the maps for the prediction and the runner-up (each with its colour bar), and the
    input with the evidence erased, in one PNG."""
    from matplotlib.figure import Figure

    (digit, p), (runner_up, q) = explanation.top[0], explanation.top[1]
    fig = Figure(figsize=(10, 2.9), layout="constrained")
    axes = fig.subplots(1, 4)
    axes[0].imshow(digit_image, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title(f"input ({digit_image.shape[0]}x{digit_image.shape[1]})", fontsize=9)
    for ax, d, prob in ((axes[1], digit, p), (axes[2], runner_up, q)):
        values = explanation.maps[d]
        limit = float(np.abs(values).max()) or 1.0
        shown = ax.imshow(values, cmap="bwr", vmin=-limit, vmax=limit)
        ax.set_title(_shown(f"why {explanation.name(d)} ({prob:.2f})"), fontsize=9)
        fig.colorbar(shown, ax=ax, shrink=0.8)
    axes[3].imshow(explanation.erased, cmap="gray", vmin=0, vmax=255)
    e_digit, e_prob = explanation.erased_top
    erased = f"{explanation.erased_pixels} pixels erased: {explanation.name(e_digit)} ({e_prob:.2f})"
    axes[3].set_title(_shown(erased), fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(_shown(title), fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def _shown(text: str) -> str:
    """A title as plain text: a file or class name is neither mathtext ($...$) nor control characters."""
    return plain(text).replace("$", r"\$")
