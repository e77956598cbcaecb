"""The API and the page. Every prediction goes through `Predictor`, as on the command line.

Nothing a request sends ever reaches a file path, and no error names one: uploads are read
from memory, and saved drawings get names made here.
"""

import json
import uuid
from importlib import resources
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from digitlab.data.images import open_image, png_bytes
from digitlab.errors import DigitlabError
from digitlab.fileio import write_bytes_atomic
from digitlab.predict import Prediction, Predictor


class PredictResponse(BaseModel):
    digit: int | None  # None when the image holds no digit
    confidence: float | None
    probs: list[float] | None  # ten probabilities summing to 1
    input: list[list[int]]  # the 28x28 image the model saw, 0..255


MAX_BODY = 2 * 1024 * 1024  # bytes; larger requests get 413
INLINE_PIXELS = 512 * 512  # images up to this size are predicted on the event loop itself
PUBLIC_INFO = (
    "architecture",
    "config",
    "classes",
    "normalization",
    "metrics",
    "digitlab_version",
    "data_fingerprint",
)


def create_app(
    predictor: Predictor, save_dir: str | Path | None = None, cors_origins: list[str] | None = None
) -> FastAPI:
    app = FastAPI(title="digitlab", description="Draw a digit and watch the model guess.")
    static = Path(str(resources.files("digitlab") / "web" / "static"))
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET", "POST"])

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"detail": f"request body over {MAX_BODY} bytes"}, status_code=413)
        return await call_next(request)

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(static / "index.html")

    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "save_enabled": save_dir is not None}

    @app.get("/api/model")
    def model_info() -> dict:
        info = predictor.info.to_json()
        return {k: info[k] for k in PUBLIC_INFO}

    @app.post("/api/predict", response_model=PredictResponse)
    async def predict(request: Request) -> JSONResponse:
        """An image upload (multipart, field `file`) or JSON `{"pixels": [784 or 28x28 values]}`."""
        image = await _image_from_request(request)
        if image.width * image.height <= INLINE_PIXELS:  # a drawing takes ~1.5 ms: a thread hop costs more
            result = predictor.predict_image(image)
        else:  # big photos go to a worker thread so they never stall the other requests
            result = await run_in_threadpool(predictor.predict_image, image)
        return JSONResponse(_response(result))  # plain json.dumps: FastAPI's encoder walks all 784 pixels

    @app.post("/api/samples")
    async def save_sample(request: Request) -> dict:
        """Keep a drawing with its correct digit in SAVE_DIR/<digit>/, for fine-tuning later."""
        if save_dir is None:
            raise HTTPException(404, "saving is off: start the server with --save-dir")
        await _body(request)
        form = await request.form()
        digit = str(form.get("digit", ""))
        if digit not in {str(d) for d in range(10)}:
            raise HTTPException(422, "field 'digit' must be 0..9")
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "field 'file' must be an image")
        image = _open_upload(await upload.read())
        name = f"{uuid.uuid4().hex}.png"
        write_bytes_atomic(Path(save_dir) / digit / name, png_bytes(np.asarray(image.convert("RGBA"))))
        return {"saved": f"{digit}/{name}"}

    return app


async def _body(request: Request) -> bytes:
    """The whole body, refusing more than MAX_BODY even when no length was announced."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"request body over {MAX_BODY} bytes")
        chunks.append(chunk)
    request._body = b"".join(chunks)  # starlette reuses it for request.form()
    return request._body


async def _image_from_request(request: Request) -> Image.Image:
    body = await _body(request)
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "multipart upload needs a file in field 'file'")
        return _open_upload(await upload.read())
    if kind.startswith("application/json"):
        return _image_from_pixels(body)
    if kind.startswith("image/"):
        return _open_upload(body)
    raise HTTPException(400, "send an image (multipart field 'file') or JSON {\"pixels\": [...]}")


def _open_upload(data: bytes) -> Image.Image:
    try:
        return open_image(data, name="upload")
    except DigitlabError as e:
        raise HTTPException(400, str(e)) from None


def _image_from_pixels(body: bytes) -> Image.Image:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HTTPException(400, f"malformed JSON: {e}") from None
    if not isinstance(payload, dict) or "pixels" not in payload:
        raise HTTPException(400, "JSON must be an object with a 'pixels' field")
    try:
        pixels = np.asarray(payload["pixels"], dtype=np.float32)
    except (ValueError, TypeError):
        raise HTTPException(422, "'pixels' must be numbers: 784 values or 28 rows of 28") from None
    if pixels.size != 784 or pixels.ndim not in (1, 2) or not np.isfinite(pixels).all():
        raise HTTPException(
            422, f"'pixels' must be 784 values or 28 rows of 28, got shape {list(pixels.shape)}"
        )
    scale = 255.0 if pixels.max() <= 1.0 else 1.0  # accept [0,1] floats or 0..255
    return Image.fromarray(np.clip(pixels.reshape(28, 28) * scale, 0, 255).astype(np.uint8))


def _response(result: Prediction) -> dict:
    return {
        "digit": result.digit,
        "confidence": result.confidence,
        "probs": result.probs,
        "input": result.input.tolist(),
    }
