"""The API and the page. Every prediction goes through `Predictor`, as on the command line.

Nothing a request sends ever reaches a file path, and no error names one: uploads are read
from memory, and saved drawings get names made here.
"""

import asyncio
import uuid
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from digitlab.data.class_names import safe_folder_name
from digitlab.data.decode import pixel_count, png_bytes
from digitlab.errors import DigitlabError
from digitlab.fileio import writable_folder, write_bytes_atomic
from digitlab.inference.predictor import Prediction, Predictor
from digitlab.web.batching import Batcher
from digitlab.web.monitoring import BATCH, Monitor, metrics_page
from digitlab.web.safeguards import Capacity, DrainBody, SecurityHeaders, ShedLoad, default_hosts, same_origin
from digitlab.web.uploads import MAX_BODY, image_from_pixels, open_upload, read_body, read_source

IMAGE_OR_PIXELS = {  # /api/predict's request body, for the OpenAPI schema (the route reads it itself)
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }  # fmt: skip
        },
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "pixels": {
                        "type": "array",
                        "description": "784 numbers, or 28 rows of 28; 0..255 or 0..1",
                    }
                },
                "required": ["pixels"],
            }
        },
    },
}
BATCH_REQUEST = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "required": ["files"],
                }  # fmt: skip
            }
        },
    }
}


class PredictResponse(BaseModel):
    digit: int | None  # None when the image holds no digit
    confidence: float | None
    probs: list[float] | None  # ten probabilities summing to 1
    input: list[list[int]] | None = Field(
        None, description="With ?include=input only: the 28x28 image the model saw, 0..255 (2 KB as JSON)."
    )


Include = Literal["input"] | None  # what an answer carries besides the prediction, when asked
INCLUDE = Query(None, description="`input`: also the image the model saw, as 28 rows of 28 values 0..255.")


MAX_DRAIN = 16 * 1024 * 1024  # bytes of a refused body read and dropped, so that its client reads the answer
MAX_IN_FLIGHT = 64  # requests being decoded or predicted at once; more get 503 and Retry-After at once
MAX_LAG = 0.05  # seconds the event loop may run late (requests waiting to be read) before 503s
INLINE_PIXELS = 512 * 512  # images up to this size are decoded and prepared on the event loop itself
BIG_DECODES = 2  # larger ones go to worker threads, at most this many at once (memory)
BATCH_WINDOW = 0.002  # seconds a request waits for others to share its model call
MAX_BATCH_FILES = 64  # images in one /api/predict/batch request (all within MAX_BODY bytes)
EXPLAINS = 2  # explanations computed at once (each ~30-60 ms of CPU on worker threads); others wait
SAVED_SIDE = 280  # saved corrections are kept at most this size, as the canvas sends them
PUBLIC_INFO = (
    "architecture",
    "config",
    "classes",
    "input_size",
    "channels",
    "normalization",
    "metrics",
    "digitlab_version",
    "data_fingerprint",
)


def create_app(
    predictor: Predictor,
    save_dir: str | Path | None = None,
    cors_origins: list[str] | None = None,
    batch_window: float = BATCH_WINDOW,
    allowed_hosts: list[str] | None = None,
    log: str = "none",
    max_batch: int = MAX_BATCH_FILES,
) -> FastAPI:
    """The app; `batch_window` seconds collect concurrent requests into one model call (0: one call each).

    `allowed_hosts`: the Host headers answered (default: localhost and 127.0.0.1; "*" any), others 400.
    `log`: the access log on stderr, "text", "json" or "none"; `max_batch`: images a batch request may send.
    """
    app = FastAPI(
        title="digitlab", description="Draw a digit and watch the model guess.", docs_url=None, redoc_url=None
    )  # FastAPI's docs pages load scripts from a CDN: off; /docs is our own page, offline
    capacity = Capacity(MAX_IN_FLIGHT, MAX_LAG)
    if save_dir is not None:  # a file or a read-only place: refused now, not as an error per drawing
        writable_folder(save_dir)
    _add_pages(app, predictor, save_dir)
    _add_prediction(app, predictor, capacity, batch_window, max_batch)
    _add_explanation(app, predictor, capacity)
    _add_samples(app, save_dir, cors_origins or [], sample_folders(predictor.info.classes, save_dir))
    _add_guards(app, capacity, cors_origins or [], allowed_hosts or default_hosts("127.0.0.1"))
    app.add_middleware(Monitor, log=log)  # outermost: every answer counted and logged, refusals too
    return app


def _add_guards(app: FastAPI, capacity: Capacity, cors_origins: list[str], allowed_hosts: list[str]) -> None:
    """What every request passes, outermost last: security headers, hosts, load, body size, CORS."""
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET", "POST"])

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"detail": f"request body over {MAX_BODY} bytes"}, status_code=413)
        return await call_next(request)

    app.add_middleware(
        ShedLoad, capacity=capacity, paths=("/api/predict", "/api/predict/batch", "/api/explain")
    )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(DrainBody, most=MAX_DRAIN)  # every refusal above reaches its client
    app.add_middleware(SecurityHeaders)  # added last, so outermost: refusals get the headers too


def _add_pages(app: FastAPI, predictor: Predictor, save_dir: str | Path | None) -> None:
    """The page, its files, and what the page asks first: is saving on, what model is this."""
    static = Path(str(resources.files("digitlab") / "web" / "static"))

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(static / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs():
        """The API reference, drawn from /openapi.json by a script of this server (FastAPI's own
        /docs loads Swagger UI from a CDN: not offline, and foreign code on the page)."""
        return FileResponse(static / "docs.html")

    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "save_enabled": save_dir is not None}

    @app.get("/api/model")
    def model_info() -> dict:
        info = predictor.info.to_json()
        return {k: info[k] for k in PUBLIC_INFO}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus' text format: requests, latency and batch sizes (every worker's, added up)."""
        body, kind = metrics_page()
        return Response(body, media_type=kind)


def _add_prediction(
    app: FastAPI, predictor: Predictor, capacity: Capacity, batch_window: float, max_batch: int
) -> None:
    big_decodes = asyncio.Semaphore(BIG_DECODES)
    batcher = Batcher(predictor, batch_window) if batch_window > 0 else None

    @app.post("/api/predict", response_model=PredictResponse, openapi_extra={"requestBody": IMAGE_OR_PIXELS})
    async def predict(request: Request, include: Include = INCLUDE) -> JSONResponse:
        """An image upload (multipart, field `file`) or JSON `{"pixels": [784 or 28x28 values]}`."""
        # a slow body holds a connection, never a place here
        source = await read_source(request, predictor.size)
        capacity.in_flight += 1
        try:
            digit = await _digit(source)
            probs = None if digit is None else await _probs(digit)
            try:
                result = predictor.prediction("upload", probs, digit)
            except DigitlabError as e:
                raise HTTPException(422, str(e)) from None
            # json.dumps: FastAPI's encoder would walk all 784 pixels of an input
            return JSONResponse(_response(result, include == "input"))
        finally:
            capacity.in_flight -= 1

    async def _digit(source: bytes | Image.Image) -> np.ndarray | None:
        if isinstance(source, Image.Image) or pixel_count(source) <= INLINE_PIXELS:
            return _prepare(predictor, source)  # a drawing takes ~1 ms: a thread hop costs more
        async with big_decodes:  # big photos in worker threads, a few at a time: no stalls, bounded memory
            return await run_in_threadpool(_prepare, predictor, source)

    async def _probs(digit: np.ndarray):
        if batcher is None:
            BATCH.observe(1)
            return predictor.probs(digit[None])[0]
        return await batcher.probs(digit)

    _add_batch_prediction(app, predictor, capacity, _digit, max_batch)


def _add_batch_prediction(
    app: FastAPI, predictor: Predictor, capacity: Capacity, prepare, max_batch: int
) -> None:
    # the description, shown at /docs, is formatted here: it gives the server's number, not a name
    description = (
        f"Up to {max_batch} images at once (multipart, each in a field `files`): one answer per image, "
        "in order, with its own error where that image fails; one model call for them all."
    )

    @app.post("/api/predict/batch", openapi_extra=BATCH_REQUEST, description=description)
    async def predict_batch(request: Request, include: Include = INCLUDE) -> JSONResponse:
        await read_body(request)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise HTTPException(415, "send multipart/form-data with the images in fields 'files'")
        uploads = [u for u in (await request.form()).getlist("files") if not isinstance(u, str)]
        if not 1 <= len(uploads) <= max_batch:
            raise HTTPException(422, f"send 1 to {max_batch} images in fields 'files', got {len(uploads)}")
        capacity.in_flight += 1
        try:
            digits: list[np.ndarray | None | str] = []
            for upload in uploads:
                try:
                    digits.append(await prepare(await upload.read()))
                except HTTPException as e:  # this image's own error; the others go on
                    digits.append(str(e.detail))
            return JSONResponse({"results": _batch_results(predictor, digits, include == "input")})
        finally:
            capacity.in_flight -= 1


def _batch_results(predictor: Predictor, digits: list, with_input: bool) -> list[dict]:
    """Answers for prepared digits (None: blank; a string: that image's error), one model call."""
    ready = [d for d in digits if isinstance(d, np.ndarray)]
    BATCH.observe(len(ready))
    probs = iter(predictor.probs(np.stack(ready)) if ready else [])
    return [
        {"error": d}
        if isinstance(d, str)
        else _response(predictor.prediction("upload", next(probs) if d is not None else None, d), with_input)
        for d in digits
    ]


def _add_explanation(app: FastAPI, predictor: Predictor, capacity: Capacity) -> None:
    from digitlab.inference.explanation import explain

    explaining = asyncio.Semaphore(EXPLAINS)

    @app.post("/api/explain")
    async def explain_input(request: Request) -> JSONResponse:
        """JSON `{"pixels": the 28x28 input /api/predict returned}`: the top three digits, attribution
        maps for the first two, and the answer once the evidence is erased (`erased_input`)."""
        body = await read_body(request)
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise HTTPException(415, 'send JSON: {"pixels": 28 rows of 28 values 0..255}')
        digit = np.array(image_from_pixels(body, predictor.size))  # a copy: writable, as torch wants
        if not digit.any():
            return JSONResponse({"label": None, "index": None} if predictor.info.named else {"digit": None})
        capacity.in_flight += 1
        try:
            async with explaining:  # gradients take CPU: a few at a time, off the event loop
                explanation = await run_in_threadpool(explain, predictor, digit)
        finally:
            capacity.in_flight -= 1
        return JSONResponse(
            {
                **explanation.guess(explanation.top[0][0]),
                **explanation.to_json(),
                "erased_input": explanation.erased.tolist(),
            }
        )


def sample_folders(classes: list, save_dir: str | Path | None) -> list[str]:
    """The folder under SAVE_DIR of each class: its number, or its name; a name that cannot be a folder's
    own (`..`, `a/b`, `CON`) is refused before the server starts, as nothing may be saved under it."""
    folders = [str(c) for c in classes]
    unsafe = [f for f in folders if not safe_folder_name(f)]
    if save_dir is not None and unsafe:
        raise DigitlabError(f"--save-dir: class name {unsafe[0]!r:.120} cannot be a folder's name")
    return folders


def _add_samples(
    app: FastAPI, save_dir: str | Path | None, cors_origins: list[str], folders: list[str]
) -> None:
    @app.post("/api/samples")
    async def save_sample(request: Request) -> dict:
        """Keep a drawing with its correct class (field `digit`: its index) in SAVE_DIR/<digit or name>/,
        for fine-tuning later."""
        if save_dir is None:
            raise HTTPException(404, "saving is off: start the server with --save-dir")
        if not same_origin(request, cors_origins):  # another site's page may not plant training data
            raise HTTPException(403, "drawings are saved only from this server's own page")
        await read_body(request)
        digit, image = await _labelled_drawing(await request.form(), len(folders))
        image.thumbnail((SAVED_SIDE, SAVED_SIDE))  # a 12-megapixel photo need not become a 30 MB PNG
        name = f"{uuid.uuid4().hex}.png"
        folder = folders[int(digit)]
        try:
            write_bytes_atomic(Path(save_dir) / folder / name, png_bytes(image.convert("RGBA")))
        except (OSError, DigitlabError) as e:  # the disk full, a file made where DIR/<class>/ goes
            why = getattr(e, "strerror", None) or "a file stands where its folder goes"
            raise HTTPException(503, f"the server cannot save drawings now ({why})") from None
        return {"saved": f"{folder}/{name}"}


async def _labelled_drawing(form, classes: int) -> tuple[str, Image.Image]:
    """The form's digit (0..9; a class 0..C-1 for a model of C classes) and its image, each checked:
    422 or 415 with one line otherwise."""
    digit = str(form.get("digit", ""))
    if digit not in {str(d) for d in range(classes)}:
        raise HTTPException(422, f"field 'digit' must be 0..{classes - 1}")
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(422, "field 'file' must be an image")
    return digit, open_upload(await upload.read())


def _prepare(predictor: Predictor, source: bytes | Image.Image) -> np.ndarray | None:
    image = source if isinstance(source, Image.Image) else open_upload(source)
    try:
        return predictor.prepare(image, "upload")
    except DigitlabError as e:  # e.g. NaN pixels in a float TIFF
        raise HTTPException(422, str(e)) from None


def _response(result: Prediction, with_input: bool) -> dict:
    """The answer (`label` and `index`; `digit` too for a digit model); the image the model saw only
    when asked (`?include=input`): 2 KB each as JSON."""
    guess = {k: v for k, v in result.to_json().items() if k in ("digit", "label", "index")}
    answer = {**guess, "confidence": result.confidence, "probs": result.probs}
    return answer | {"input": result.input.tolist()} if with_input else answer
