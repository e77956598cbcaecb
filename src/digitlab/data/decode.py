"""Reading an image file or upload safely: one clear error for any failure, bounded memory for any size.

Sizes are checked before decoding (decompression bombs), large images are reduced while decoding
or a strip at a time, and every mode Pillow reads (palette, 16-bit, float, alpha, EXIF rotation)
ends as one float32 grayscale array (or, for a colour model, RGB). `images.to_mnist` takes it from there.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitlab.errors import DigitlabError
from digitlab.fileio import regular_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
# The formats digitlab opens, by Pillow's names (a phone's multi-picture JPEG opens as JPEG). Pillow
# knows dozens more (ICO, EPS via Ghostscript, SPIDER, DDS, ...): each is code that hostile bytes
# would reach, some decode before any size can be checked, and none of them holds a digit photo.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
FORMAT_NAMES = "PNG, JPEG, BMP, GIF, WebP or TIFF"
MAX_PIXELS = 40_000_000  # refuse larger images before decoding them (decompression bombs)
MAX_SIDE = 16_384  # and longer sides: Pillow keeps a pointer per row, so 1x40,000,000 costs 300 MB
STRIP_PIXELS = 1 << 20  # images that need a mode change are converted a strip of rows at a time
WORKING_SIZE = 512  # larger images are averaged down first; a digit filling a tenth still gets 50 px


class UnsupportedImage(DigitlabError):
    """Bytes that are no image in one of the FORMATS digitlab opens (HTTP 415 on the web)."""


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
            image = Image.open(io.BytesIO(source), formats=FORMATS)
        else:
            if regular_file(source).stat().st_size == 0:
                raise DigitlabError(f"{name}: empty file (0 bytes)")
            image = Image.open(source, formats=FORMATS)
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
    except DigitlabError:
        raise
    except FileNotFoundError:
        raise DigitlabError(f"{name}: no such file") from None
    except PermissionError:
        raise DigitlabError(f"{name}: permission denied") from None
    except UnidentifiedImageError:
        raise UnsupportedImage(f"{name}: not an image digitlab reads ({FORMAT_NAMES})") from None
    except Exception as e:  # noqa: BLE001 (a decoder fed hostile bytes can fail in any way: a bad file)
        raise DigitlabError(f"{name}: cannot decode image ({type(e).__name__}: {e})") from None


def grey_by_header(path: str | Path) -> bool:
    """Whether the file's header alone says the image is grey (a mode of GREY_MODES): no decoding."""
    try:
        with Image.open(regular_file(path), formats=FORMATS) as image:  # a pipe would never answer
            return image.mode in GREY_MODES
    except Exception:  # noqa: BLE001 (open_image gives the real error message)
        return False


def pixel_count(data: bytes) -> int:
    """How many pixels an upload will decode to, read from its header alone (0 if unreadable)."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            return image.width * image.height
    except Exception:  # noqa: BLE001 (open_image gives the real error message)
        return 0


def to_grayscale(image: Image.Image, name: str = "image") -> np.ndarray:
    """Float32 (H,W) in [0,1]: EXIF orientation applied, transparency composited.

    A large image is first reduced by whole factors in its own mode (a few bytes a pixel),
    so no full-size float copy is ever made. Float images may hold 0..1 or 0..255.
    """
    return _float_grey(_upright(image), name)


def grey_image(image: Image.Image, name: str = "image") -> Image.Image:
    """`to_grayscale` as an 8-bit PIL image: an image Pillow greys to 8 bits itself (grey, RGB,
    CMYK) never leaves Pillow, so its pixels are not copied to numpy and back."""
    image = _upright(image)
    if _eight_bit_grey(image):
        return image.convert("L")
    return Image.fromarray(np.asarray(np.round(_float_grey(image, name) * 255), np.uint8))


def _upright(image: Image.Image) -> Image.Image:
    """Reduced below twice the working size, then turned as its EXIF orientation says."""
    return ImageOps.exif_transpose(_reduced(image, 2 * WORKING_SIZE))  # (the transpose copies)


def _eight_bit_grey(image: Image.Image) -> bool:
    """Whether Pillow's own conversion to 8-bit grey is the whole job: no transparency, no palette,
    no more than 8 bits a channel."""
    return image.mode in EIGHT_BIT_GREY_MODES and "transparency" not in image.info


def _float_grey(image: Image.Image, name: str) -> np.ndarray:
    """Grey float32 in [0,1]: 16-bit, 32-bit and float images scaled, palettes and transparency
    composited, any other mode greyed by Pillow."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise DigitlabError(f"{name}: the image holds NaN or infinite pixel values")
        top = 65535.0 if image.mode.startswith("I;16") else _float_range(arr)
        return np.asarray(np.clip(arr / top, 0, 1), np.float32)
    if image.mode == "P" or "A" in image.mode or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255
        return _composite(rgba)
    grey = image if image.mode == "L" else image.convert("L")
    # the bytes as they are (`np.asarray(grey)` checks the array interface, costing more than a small copy)
    return np.frombuffer(grey.tobytes(), np.uint8).reshape(grey.height, grey.width).astype(np.float32) / 255


EIGHT_BIT_GREY_MODES = ("1", "L", "RGB", "CMYK", "YCbCr")  # Pillow's convert('L') greys them exactly
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")  # modes that hold no colour at all
# An image is colour when over 1% of its pixels have channels 0.1 apart: a grey photo saved as RGB
# (a JPEG's chroma rounding moves a channel by a few levels of 255) stays grey.
COLOUR_SPREAD, COLOUR_FRACTION = 0.1, 0.01


def to_rgb(image: Image.Image, name: str = "image") -> np.ndarray:
    """Float32 (H,W,3) in [0,1], as `to_grayscale` reads the image but keeping its colours; an image
    of a grey mode is its grey repeated in the three channels."""
    if image.mode in GREY_MODES:
        return np.repeat(to_grayscale(image, name)[..., None], 3, axis=-1)
    image = ImageOps.exif_transpose(_reduced(image, 2 * WORKING_SIZE))
    if image.mode == "P" or "A" in image.mode or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255
        alpha = rgba[..., 3:]
        return np.asarray(rgba[..., :3] * alpha + _paper(rgba) * (1 - alpha), np.float32)
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255


def is_colour(image: Image.Image, name: str = "image") -> bool:
    """Whether the image holds colour (see COLOUR_SPREAD); grey modes are known without decoding."""
    if image.mode in GREY_MODES:
        return False
    rgb = to_rgb(image, name)
    spread = rgb.max(-1) - rgb.min(-1)
    return bool((spread > COLOUR_SPREAD).mean() > COLOUR_FRACTION)


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
    return np.asarray(gray * alpha + _paper(rgba) * (1 - alpha), np.float32)


def _paper(rgba: np.ndarray) -> float:
    """White paper under dark opaque pixels, black under light ones (none opaque: black)."""
    gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    opaque = rgba[..., 3] > 0.5
    return 1.0 if opaque.any() and gray[opaque].mean() < 0.5 else 0.0


def png_bytes(image: np.ndarray | Image.Image) -> bytes:
    """An image (a uint8 array or a PIL image) encoded as PNG."""
    image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
