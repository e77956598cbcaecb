"""Turn any photo, scan or drawing of a digit into what MNIST looks like.

MNIST digits are white ink on black, the ink scaled to fit a 20x20 box (aspect ratio
kept) and placed in a 28x28 frame so that its centre of mass sits in the middle. One
function does that for the CLI, the reports, the image-folder reader and the web app.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitlab.errors import DigitlabError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
MAX_PIXELS = 40_000_000  # refuse larger images before decoding them (decompression bombs)
MAX_SIDE = 16_384  # and longer sides: Pillow keeps a pointer per row, so 1x40,000,000 costs 300 MB
STRIP_PIXELS = 1 << 20  # images that need a mode change are converted a strip of rows at a time
MIN_CONTRAST = 0.15  # ink must differ this much (of the full range) from the paper
MIN_INK_FRACTION = 0.0005  # fewer ink pixels than this means a blank image
WORKING_SIZE = 512  # larger images are averaged down first; a digit filling a tenth still gets 50 px


def open_image(
    source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Open and fully decode an image file or bytes, with one clear error for any failure.

    The size is checked before decoding; a large JPEG is decoded straight at a reduced scale
    (the codec can skip detail it would otherwise decode and then average away).
    """
    name = name or (str(source) if not isinstance(source, bytes) else "<upload>")
    try:
        if isinstance(source, bytes):
            if not source:
                raise DigitlabError(f"{name}: empty file (0 bytes)")
            image = Image.open(io.BytesIO(source))
        else:
            if Path(source).stat().st_size == 0:
                raise DigitlabError(f"{name}: empty file (0 bytes)")
            image = Image.open(source)
        width, height = image.size
        if width * height > max_pixels or max(width, height) > MAX_SIDE:
            raise DigitlabError(
                f"{name}: image is {width}x{height}, over the limits ({max_pixels:,} pixels, "
                f"{MAX_SIDE:,} a side)"
            )
        image.seek(0)  # GIF and WebP animations: the first frame
        if image.format == "JPEG":
            image.draft(image.mode, (2 * WORKING_SIZE, 2 * WORKING_SIZE))
        image.load()
        return image
    except FileNotFoundError:
        raise DigitlabError(f"{name}: no such file") from None
    except PermissionError:
        raise DigitlabError(f"{name}: permission denied") from None
    except UnidentifiedImageError:
        raise DigitlabError(f"{name}: not an image (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DigitlabError(f"{name}: cannot decode image ({e})") from None


def to_grayscale(image: Image.Image, name: str = "image") -> np.ndarray:
    """Float32 (H,W) in [0,1]: EXIF orientation applied, transparency composited.

    A large image is first reduced by whole factors in its own mode (a few bytes a pixel),
    so no full-size float copy is ever made. Float images may hold 0..1 or 0..255.
    """
    image = ImageOps.exif_transpose(_reduced(image, 2 * WORKING_SIZE))  # (the transpose copies)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise DigitlabError(f"{name}: the image holds NaN or infinite pixel values")
        top = 65535.0 if image.mode.startswith("I;16") else _float_range(arr)
        return np.clip(arr / top, 0, 1)
    if image.mode == "P" or "A" in image.mode or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255
        return _composite(rgba)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255


def _float_range(arr: np.ndarray) -> float:
    """The white level of a float or 32-bit image: 1 for 0..1 data, 255 for 0..255, else its maximum."""
    top = float(arr.max(initial=0.0))
    return 1.0 if top <= 1.0 else 255.0 if top <= 255.0 else top


def _reduced(image: Image.Image, size: int) -> Image.Image:
    """Shrink by a whole factor (box average) until the longer side is under 2 * `size`.

    Modes that `reduce` cannot work in (palette, 1-bit, CMYK, 16-bit) are converted, and
    those with alpha (which `reduce` copies whole to premultiply) reduced, one strip of rows
    at a time, so no full-size copy exists.
    """
    factor = max(image.size) // size
    if factor < 2:
        return image
    if image.mode in ("L", "RGB", "I", "F"):
        return image.reduce(factor)
    if image.mode in ("RGBA", "LA"):
        target = image.mode
    elif image.mode.startswith("I;16"):
        target = "I"
    else:
        target = "RGBA" if image.mode in ("P", "PA") or "transparency" in image.info else "L"
    width, height = image.size
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    strips = [
        image.crop((0, top, width, min(top + rows, height))).convert(target).reduce(factor)
        for top in range(0, height, rows)
    ]
    out = Image.new(target, (strips[0].width, sum(s.height for s in strips)))
    out.info = dict(image.info)  # the EXIF orientation comes along
    for i, strip in enumerate(strips):
        out.paste(strip, (0, i * strips[0].height))
    return out


def _composite(rgba: np.ndarray) -> np.ndarray:
    """Lay the image on paper that contrasts with its opaque pixels (dark ink -> white paper)."""
    gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    alpha = rgba[..., 3]
    opaque = alpha > 0.5
    if opaque.all() or not opaque.any():
        return gray if opaque.all() else np.zeros_like(gray)
    paper = 1.0 if gray[opaque].mean() < 0.5 else 0.0
    return gray * alpha + paper * (1 - alpha)


def to_mnist(image: Image.Image, name: str = "image") -> np.ndarray | None:
    """The 28x28 uint8 MNIST-style version of `image`, or None when it holds no digit."""
    gray = _shrink(to_grayscale(image, name), WORKING_SIZE)
    if min(gray.shape) >= 64 and _border_noise(gray) > 0.02:  # a noisy photo or scan: drop speckles
        gray = median3(gray)
    ink = _ink(gray)
    if ink is None:
        return None
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _center(_fit_box(ink, 20))


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


def _ink(gray: np.ndarray) -> np.ndarray | None:
    """Ink intensity in [0,1] on a zero background, or None if there is no ink."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:  # dark ink on light paper: flip to MNIST's polarity
        gray, border = 1 - gray, 1 - border
    paper = float(np.median(border))
    top = float(np.percentile(gray, 99.9))
    if top - paper < MIN_CONTRAST:
        return None
    ink = np.clip((gray - paper) / (top - paper), 0, 1)
    ink[ink < 0.2] = 0  # paper texture, JPEG ringing and faint noise
    if np.count_nonzero(ink) < max(2, MIN_INK_FRACTION * ink.size):
        return None
    return ink


def _fit_box(ink: np.ndarray, box: int) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio."""
    h, w = ink.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, np.float32), 0, None)


def _center(ink: np.ndarray) -> np.ndarray:
    """Place in a 28x28 frame with the centre of mass in the middle, as MNIST was made."""
    h, w = ink.shape
    total = ink.sum()
    ys, xs = np.indices(ink.shape)
    cy, cx = (ys * ink).sum() / total, (xs * ink).sum() / total
    top = int(np.clip(round(14 - cy), 0, 28 - h))
    left = int(np.clip(round(14 - cx), 0, 28 - w))
    frame = np.zeros((28, 28), np.float32)
    frame[top : top + h, left : left + w] = ink
    return np.round(frame / frame.max() * 255).astype(np.uint8)


def png_bytes(image: np.ndarray | Image.Image) -> bytes:
    """An image (a uint8 array or a PIL image) encoded as PNG."""
    image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
