"""What a request sends, read safely: a body of bounded size, an upload's bytes, or 28x28 pixels as JSON.

Every failure is an HTTP error with one clear line; no file path is ever taken from a request.
"""

import json
import math

import numpy as np
from fastapi import HTTPException, Request
from PIL import Image
from starlette.requests import ClientDisconnect

from digitlab.data.decode import UnsupportedImage, open_image
from digitlab.errors import DigitlabError

MAX_BODY = 2 * 1024 * 1024  # bytes; larger requests get 413
MAX_PIXELS = 16_000_000  # an upload may decode to this many pixels (a drawing needs far fewer)


async def read_body(request: Request) -> bytes:
    """The whole body, refusing more than MAX_BODY even when no length was announced."""
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise HTTPException(413, f"request body over {MAX_BODY} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # the client left, or was cut off for sending too slowly: nobody to answer
        raise HTTPException(400, "the request's body did not arrive") from None
    request._body = b"".join(chunks)  # starlette reuses it for request.form()
    return request._body


async def read_source(request: Request, size: tuple[int, int] = (28, 28)) -> bytes | Image.Image:
    """The upload's bytes (decoded later, where its size allows), or the image the JSON pixels make
    (`size`: the model's input, (height, width))."""
    body = await read_body(request)
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "multipart upload needs a file in field 'file'")
        return await upload.read()
    if kind.startswith("application/json"):
        return image_from_pixels(body, size)
    if kind.startswith("image/"):
        return body
    raise HTTPException(400, "send an image (multipart field 'file') or JSON {\"pixels\": [...]}")


def open_upload(data: bytes) -> Image.Image:
    """The upload decoded: 415 for a format digitlab does not open, 400 for a broken or oversized one."""
    try:
        return open_image(data, name="upload", max_pixels=MAX_PIXELS)
    except UnsupportedImage as e:
        raise HTTPException(415, str(e)) from None
    except DigitlabError as e:
        raise HTTPException(400, str(e)) from None


def image_from_pixels(body: bytes, size: tuple[int, int] = (28, 28)) -> Image.Image:
    """28x28 grey levels from JSON: 784 numbers, or 28 rows of 28; all 0..255, or all 0..1.
    (`size`: the model's (height, width), when it reads other images than MNIST's.) A colour model's
    input, as /api/predict returns it, is 28 rows of 28 [red, green, blue] triples."""
    height, width = size
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as e:  # also integers too long to convert, and deep nesting
        raise HTTPException(400, f"malformed JSON: {str(e)[:100]}") from None
    if not isinstance(payload, dict) or "pixels" not in payload:
        raise HTTPException(400, "JSON must be an object with a 'pixels' field")
    rows = payload["pixels"]
    if isinstance(rows, list) and len(rows) == height and all(isinstance(r, list) for r in rows):
        rows = [v for r in rows if len(r) == width for v in r]
    shape: tuple[int, ...] = (height, width)
    if isinstance(rows, list) and rows and all(isinstance(v, list) and len(v) == 3 for v in rows):
        rows, shape = [c for v in rows for c in v], (height, width, 3)  # a colour input's pixels
    if not isinstance(rows, list) or len(rows) != math.prod(shape):
        raise HTTPException(
            422, f"'pixels' must be {height * width} numbers, or {height} rows of {width} numbers"
        )
    if not all(type(v) in (int, float) for v in rows):
        raise HTTPException(422, "'pixels' must hold numbers only (not strings, booleans or null)")
    out_of_range = HTTPException(422, "'pixels' values must be finite numbers from 0 to 255 (or 0 to 1)")
    try:
        pixels = np.array(rows, dtype=np.float64)
    except OverflowError:  # an integer past float range, such as 10**400
        raise out_of_range from None
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 255:
        raise out_of_range
    scale = 255.0 if pixels.max() <= 1.0 else 1.0  # [0,1] floats or 0..255
    return Image.fromarray(np.round(pixels.reshape(shape) * scale).astype(np.uint8))
